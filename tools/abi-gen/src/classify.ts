/**
 * Sorting constants into the manifest's groups (`ManifestConstant.group`).
 *
 * @module
 */

import { TREE } from './branches.ts';

/** The prefixes that mark the ID tables, and the group each belongs to. */
export const ID_PREFIXES = [
	{ prefix: 'NV_VGPU_MSG_FUNCTION_', group: 'rpc-function' },
	{ prefix: 'NV_VGPU_MSG_EVENT_', group: 'rpc-event' },
	{ prefix: 'GSP_SEQ_BUF_OPCODE_', group: 'seq-opcode' },
] as const;

/** RM class names in the nvrm headers: `NV01_ROOT`, `NV20_SUBDEVICE_0`, `FERMI_VASPACE_A`, … */
const CLASS_NAME =
	/^(NV\d\d_[A-Z0-9_]+|(FERMI|KEPLER|MAXWELL|PASCAL|VOLTA|TURING|AMPERE|ADA|HOPPER|BLACKWELL)_[A-Z0-9_]*_[A-Z])$/;

/** The group of an enumerator. */
export function enumeratorGroup(name: string, enumName: string | undefined): string {
	for (const p of ID_PREFIXES) if (name.startsWith(p.prefix)) return p.group;
	return `enum:${enumName ?? '@anon'}`;
}

/** The group of an integer macro defined in `file` (relative to the tree root). */
export function macroGroup(name: string, value: bigint, file: string): string {
	for (const p of ID_PREFIXES) if (name.startsWith(p.prefix)) return p.group;
	const classRange = value >= 0n && value <= 0xffffn;
	if (file === TREE.nvifClass) return !name.startsWith('NVIF_') && classRange ? 'class' : 'define';
	if (classRange && CLASS_NAME.test(name)) return 'class';
	// Control command IDs are (class << 16) | (category << 8) | index, so at least 0x10000.
	if (name.includes('_CTRL_CMD_') && value >= 0x10000n && value <= 0xffffffffn) return 'control';
	return 'define';
}

/**
 * The identity of an enumeration for inheritance: its name; for an anonymous enum the ID table the member
 * belongs to (rpcfn.h and msgfn.h use anonymous enums), else the member itself.
 */
export function enumIdentity(enumName: string | undefined, member: string): string {
	if (enumName) return enumName;
	for (const p of ID_PREFIXES) if (member.startsWith(p.prefix)) return `@${p.group}`;
	return `@anon:${member}`;
}
