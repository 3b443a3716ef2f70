/**
 * The Linux ioctl request encoding (`include/uapi/asm-generic/ioctl.h`, used by x86-64).
 *
 * A request number packs four fields: `nr` (bits 0–7), `type` (bits 8–15, `'d'` for DRM), `size` (bits
 * 16–29, the argument struct's `sizeof`) and `dir` (bits 30–31: {@link IOC_WRITE} = userspace writes the
 * argument, {@link IOC_READ} = userspace reads it back). The DRM uAPI builds its codes with
 * `DRM_IOWR(nr, type)` etc.; gspkit computes them from the layouts so a size mismatch cannot hide.
 *
 * @module
 */

/** No data transferred (`_IOC_NONE`). */
export const IOC_NONE = 0;
/** Userspace → kernel (`_IOC_WRITE`): the argument is copied in. */
export const IOC_WRITE = 1;
/** Kernel → userspace (`_IOC_READ`): the argument is copied out. */
export const IOC_READ = 2;

/** Width of the `nr` field. */
export const IOC_NRBITS = 8;
/** Width of the `type` field. */
export const IOC_TYPEBITS = 8;
/** Width of the `size` field (so an argument is at most 16 KiB − 1). */
export const IOC_SIZEBITS = 14;
/** Width of the `dir` field. */
export const IOC_DIRBITS = 2;

const NRSHIFT = 0;
const TYPESHIFT = NRSHIFT + IOC_NRBITS;
const SIZESHIFT = TYPESHIFT + IOC_TYPEBITS;
const DIRSHIFT = SIZESHIFT + IOC_SIZEBITS;

/** `DRM_IOCTL_BASE`: the ioctl `type` byte of every DRM request (`'d'`). */
export const DRM_IOCTL_BASE = 'd'.charCodeAt(0);
/** `DRM_COMMAND_BASE`: first `nr` of the driver-private range. */
export const DRM_COMMAND_BASE = 0x40;
/** `DRM_COMMAND_END`: one past the last driver-private `nr` (generic ioctls restart here). */
export const DRM_COMMAND_END = 0xa0;

/** The four fields of a request number. */
export interface IocFields {
	/** `IOC_NONE`, `IOC_WRITE`, `IOC_READ` or `IOC_READ | IOC_WRITE`. */
	readonly dir: number;
	/** The subsystem byte (`'d'` = 0x64 for DRM). */
	readonly type: number;
	/** The command number within the subsystem. */
	readonly nr: number;
	/** The argument size in bytes. */
	readonly size: number;
}

function checkField(name: string, value: number, bits: number): void {
	if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
		throw new RangeError(`_IOC ${name} ${value} does not fit in ${bits} bits`);
	}
}

/** `_IOC(dir, type, nr, size)`, as an unsigned 32-bit number. Throws `RangeError` if a field overflows. */
export function ioc(dir: number, type: number, nr: number, size: number): number {
	checkField('dir', dir, IOC_DIRBITS);
	checkField('type', type, IOC_TYPEBITS);
	checkField('nr', nr, IOC_NRBITS);
	checkField('size', size, IOC_SIZEBITS);
	return ((dir << DIRSHIFT) | (size << SIZESHIFT) | (type << TYPESHIFT) | (nr << NRSHIFT)) >>> 0;
}

/** `_IO(type, nr)`: no argument. */
export function io(type: number, nr: number): number {
	return ioc(IOC_NONE, type, nr, 0);
}

/** `_IOR(type, nr, size)`: the kernel writes the argument. */
export function ior(type: number, nr: number, size: number): number {
	return ioc(IOC_READ, type, nr, size);
}

/** `_IOW(type, nr, size)`: the kernel reads the argument. */
export function iow(type: number, nr: number, size: number): number {
	return ioc(IOC_WRITE, type, nr, size);
}

/** `_IOWR(type, nr, size)`: both directions. */
export function iowr(type: number, nr: number, size: number): number {
	return ioc(IOC_READ | IOC_WRITE, type, nr, size);
}

/** Split a request number into its fields (`_IOC_DIR`, `_IOC_TYPE`, `_IOC_NR`, `_IOC_SIZE`). */
export function iocFields(request: number): IocFields {
	const r = request >>> 0;
	return {
		dir: (r >>> DIRSHIFT) & ((1 << IOC_DIRBITS) - 1),
		type: (r >>> TYPESHIFT) & ((1 << IOC_TYPEBITS) - 1),
		nr: (r >>> NRSHIFT) & ((1 << IOC_NRBITS) - 1),
		size: (r >>> SIZESHIFT) & ((1 << IOC_SIZEBITS) - 1),
	};
}

/** `DRM_IO(nr)`. */
export function drmIo(nr: number): number {
	return io(DRM_IOCTL_BASE, nr);
}

/** `DRM_IOR(nr, type)` for an argument of `size` bytes. */
export function drmIor(nr: number, size: number): number {
	return ior(DRM_IOCTL_BASE, nr, size);
}

/** `DRM_IOW(nr, type)` for an argument of `size` bytes. */
export function drmIow(nr: number, size: number): number {
	return iow(DRM_IOCTL_BASE, nr, size);
}

/** `DRM_IOWR(nr, type)` for an argument of `size` bytes. */
export function drmIowr(nr: number, size: number): number {
	return iowr(DRM_IOCTL_BASE, nr, size);
}
