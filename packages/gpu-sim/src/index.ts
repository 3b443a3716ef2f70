/**
 * `@gspkit/gpu-sim`: an embedded simulated NVIDIA GPU implementing hal's `Platform`.
 *
 * It is the hardware side, written from the hardware reference independently of the driver packages:
 * chip identity registers, PCI configuration space (BARs, capabilities, SR-IOV), DMA memory, sparse VRAM
 * behind BAR windows, and interrupt lines.
 *
 * @module
 */

export {
	chipsetOf,
	DEFAULT_SIM_CHIP,
	encodeBoot0,
	encodeBoot42,
	isSimChipName,
	SIM_CHIPS,
	type SimChipName,
	type SimChipSpec,
	type SimSriovSpec,
	simChipSpec,
} from './chips.ts';
export {
	DEFAULT_DMA_BUS_BASE,
	DEFAULT_DMA_POOL_SIZE,
	DMA_POISON,
	type DmaAllocationInfo,
	DmaPool,
	type DmaPoolOptions,
} from './dma.ts';
export * from './engines/index.ts';
export {
	DmaFaultError,
	DmaFreeError,
	MmioAccessError,
	PciConfigAccessError,
	SIM_ERROR_CODES,
	type SimErrorCode,
	SimulatorClosedError,
	VramFaultError,
} from './errors.ts';
export * from './falcon/index.ts';
export * from './firmware-models/index.ts';
export * from './gsp-rm/index.ts';
export { defineIdentityRegisters, GFW_BOOT_COMPLETE, IDENTITY_REGISTERS } from './identity.ts';
export { SIM_IRQ_NAMES, SimInterruptLine, type SimIrqName } from './irq.ts';
export {
	BAR0_SIZE,
	checkMmioAccess,
	type MmioDevice,
	type MmioRange,
	NO_DEVICE_READ_VALUE,
	RegisterFile,
	type RegisterSpec,
	type UnclaimedAccess,
} from './mmio.ts';
export * from './mmu/index.ts';
export {
	buildConfigSpace,
	CAP_OFFSETS,
	type ConfigFieldOptions,
	type ConfigSpaceOptions,
	type ConfigWriteHook,
	PCI,
	PCI_CONFIG_SIZE,
	PCIE_CAP,
	PciConfigModel,
	ROM_BAR_SIZE,
	type SimBar,
	SRIOV,
	simBars,
} from './pci-config.ts';
export { createSimulatedGpu, SimulatedGpu, type SimulatedGpuOptions } from './simulated-gpu.ts';
export * from './vbios/index.ts';
export {
	SimVramWindow,
	type SimVramWindowOptions,
	SparseVram,
	VRAM_PAGE_SIZE,
	type WindowTranslation,
} from './vram.ts';
