/**
 * The simulated boot ROM: when the host starts a falcon, identify the loaded code and, for heavy-secure
 * images, check what the real BROM checks before entering HS mode — the BROM parameter registers (GA10x+),
 * the secure bit of the code blocks, the data image, and the signature chosen by the board's fuse version.
 * A device model cannot verify NVIDIA's RSA signatures; comparing against the signatures published with
 * each image (by digest) stands in for it, so the driver must still pick and place the right one.
 *
 * @module
 */

import { maskedSha256, sha256Hex } from '../vbios/bytes.ts';
import { BROM_ERROR } from './codes.ts';
import type { FalconImem } from './memory.ts';
import type { BootProfile } from './profile.ts';
import type { BromParams, FalconEngineName, KnownUcode, UcodeRegistry } from './program.ts';
import { fuseArrayFor, fuseVersionOf, MOD_SEL_ALGO } from './registers.ts';

/** Outcome of the BROM stage. */
export type BromOutcome =
	| { readonly kind: 'run'; readonly ucode: KnownUcode; readonly fuseVersion: number | undefined }
	/** Authentication failed: the falcon halts with `code` in MAILBOX0. */
	| { readonly kind: 'refuse'; readonly code: number; readonly reason: string; readonly ucode?: KnownUcode }
	/** Nothing runnable (IMEM miss or unknown non-secure code): the core halts, mailboxes untouched. */
	| { readonly kind: 'halt'; readonly reason: string };

/** Inputs of {@link bromStart}. */
export interface BromInputs {
	readonly engine: FalconEngineName;
	readonly profile: BootProfile;
	readonly imem: FalconImem;
	readonly dmem: Uint8Array;
	readonly bootvec: number;
	readonly brom: BromParams;
	readonly registry: UcodeRegistry;
	/** Reads a fuse register (absolute BAR0 offset). */
	readFuse(offset: number): number;
}

function hex(v: number): string {
	return `0x${(v >>> 0).toString(16)}`;
}

/** Identify the loaded code and authenticate it. Pure: it reads memories and registers, changes nothing. */
export function bromStart(inp: BromInputs): BromOutcome {
	const tags = inp.imem.tagMap();
	if (tags.blockOf(inp.bootvec) === undefined) {
		return { kind: 'halt', reason: `IMEM miss: no valid block is tagged for BOOTVEC ${hex(inp.bootvec)}` };
	}

	// Identify: every segment of an image must be present, byte for byte, at its virtual address.
	const cache = new Map<string, { bytes: Uint8Array; secure: boolean; sha: string } | null>();
	const readSegment = (va: number, length: number) => {
		const key = `${va}:${length}`;
		let hit = cache.get(key);
		if (hit === undefined) {
			const r = tags.read(va, length);
			hit = r === undefined ? null : { ...r, sha: sha256Hex(r.bytes) };
			cache.set(key, hit);
		}
		return hit;
	};
	// Several images may be present at once (a loader and what it loaded): the running one is the one whose
	// code contains BOOTVEC.
	const contains = (u: KnownUcode) =>
		u.segments.some((s) => inp.bootvec >= s.va && inp.bootvec < s.va + s.length);
	const identify = (ucodes: readonly KnownUcode[]) => {
		let badEntry: KnownUcode | undefined;
		let other: KnownUcode | undefined;
		for (const u of ucodes) {
			if (!contains(u)) continue;
			if (!u.segments.every((s) => readSegment(s.va, s.length)?.sha === s.sha256)) continue;
			if (u.engine === inp.engine && u.chips.includes(inp.profile.chip)) {
				if (u.entry === inp.bootvec) return { match: u, badEntry, other };
				badEntry ??= u;
			} else other ??= u;
		}
		return { match: undefined, badEntry, other };
	};
	// The eagerly registered images first (a prefix of the full list, so a match there is the match the full
	// list gives); only if none is the running image, every image, lazily registered ones included.
	const eager = inp.registry.registeredUcodes?.();
	let found = eager === undefined ? undefined : identify(eager);
	if (found?.match === undefined) found = identify(inp.registry.ucodes());
	const { match, badEntry, other } = found;
	if (match === undefined && badEntry !== undefined) {
		return {
			kind: 'refuse',
			code: BROM_ERROR.BAD_ENTRY,
			reason: `${badEntry.name}: BOOTVEC ${hex(inp.bootvec)} is not the entry point ${hex(badEntry.entry)}`,
			ucode: badEntry,
		};
	}
	if (match === undefined) {
		if (other !== undefined) {
			const wrongEngine = other.engine !== inp.engine;
			return {
				kind: 'refuse',
				code: wrongEngine ? BROM_ERROR.IMAGE_WRONG_ENGINE : BROM_ERROR.IMAGE_WRONG_CHIP,
				reason: wrongEngine
					? `${other.name} is built for the ${other.engine.toUpperCase()} falcon`
					: `${other.name} is signed for ${other.chips.join(', ')}, not ${inp.profile.chip}`,
				ucode: other,
			};
		}
		if (inp.imem.hasSecureBlocks()) {
			return {
				kind: 'refuse',
				code: BROM_ERROR.IMAGE_UNKNOWN,
				reason:
					'the code in secure IMEM matches no signed image (a changed byte, a wrong tag or a wrong load)',
			};
		}
		return { kind: 'halt', reason: 'unrecognised non-secure code: the core halts' };
	}
	const u = match;
	const hs = u.hs;
	if (hs === undefined) return { kind: 'run', ucode: u, fuseVersion: undefined };

	for (const s of u.segments) {
		if (s.secure && readSegment(s.va, s.length)?.secure !== true) {
			return {
				kind: 'refuse',
				code: BROM_ERROR.CODE_NOT_SECURE,
				reason: `${u.name}: the code at ${hex(s.va)} is not in secure IMEM blocks`,
				ucode: u,
			};
		}
	}
	let fuseVersion = 0;
	if (inp.profile.brom === 'pkc') {
		const b = inp.brom;
		if ((b.modSel & 0xff) !== MOD_SEL_ALGO.RSA3K) {
			return refuse(u, BROM_ERROR.BAD_MOD_SEL, `MOD_SEL.ALGO ${b.modSel & 0xff} is not RSA3K (1)`);
		}
		if (b.engineIdMask !== hs.engineIdMask) {
			return refuse(
				u,
				BROM_ERROR.BAD_ENGIDMASK,
				`BROM_ENGIDMASK ${hex(b.engineIdMask)}, image ${hex(hs.engineIdMask)}`,
			);
		}
		if ((b.ucodeId & 0xff) !== hs.ucodeId) {
			return refuse(
				u,
				BROM_ERROR.BAD_UCODE_ID,
				`BROM_CURR_UCODE_ID ${b.ucodeId & 0xff}, image ${hs.ucodeId}`,
			);
		}
		if (b.paraAddr[0] !== hs.pkcOffset) {
			return refuse(
				u,
				BROM_ERROR.BAD_PARAADDR,
				`BROM_PARAADDR(0) ${hex(b.paraAddr[0] ?? 0)}, signature at DMEM ${hex(hs.pkcOffset)}`,
			);
		}
		const array = fuseArrayFor(b.engineIdMask);
		if (array !== undefined && hs.ucodeId >= 1 && hs.ucodeId <= 16) {
			fuseVersion = fuseVersionOf(inp.readFuse(array + 4 * (hs.ucodeId - 1)));
		}
	}
	if (u.data !== undefined) {
		const digest = maskedSha256(inp.dmem, u.data.length, u.data.masks);
		if (digest !== u.data.sha256) {
			return refuse(u, BROM_ERROR.DATA_MISMATCH, 'DMEM differs from the signed data image');
		}
	}
	if (hs.signatureSize > 0) {
		const expected = hs.signaturesByFuseVersion.get(fuseVersion);
		if (expected === undefined) {
			return refuse(
				u,
				BROM_ERROR.NO_SIGNATURE_FOR_FUSE,
				`no signature for fuse version ${fuseVersion} (image has ${[...hs.signaturesByFuseVersion.keys()].join(', ')})`,
			);
		}
		const sig = inp.dmem.subarray(hs.pkcOffset, hs.pkcOffset + hs.signatureSize);
		if (sha256Hex(sig) !== expected) {
			const which = [...hs.signaturesByFuseVersion.entries()].find(([, d]) => d === sha256Hex(sig));
			return refuse(
				u,
				BROM_ERROR.SIGNATURE_MISMATCH,
				which === undefined
					? `the signature at DMEM ${hex(hs.pkcOffset)} is not one of the image's signatures`
					: `the signature patched is the one for fuse version ${which[0]}; the board's fuse version is ${fuseVersion}`,
			);
		}
	}
	return { kind: 'run', ucode: u, fuseVersion };
}

function refuse(ucode: KnownUcode, code: number, reason: string): BromOutcome {
	return { kind: 'refuse', code, reason: `${ucode.name}: ${reason}`, ucode };
}
