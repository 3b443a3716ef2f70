/**
 * Robust-channel (RC) errors as GSP-RM reports them in RC_TRIGGERED: `exceptType` is the error number NVIDIA
 * documents as an "Xid". The few names below are from NVIDIA's public Xid table; others are shown by number.
 * The event's struct differs between branches (r570 added the MMU fault address and type), so fields are read
 * from the ABI's decoded record by name, when present.
 *
 * @module
 */

/** The copy-engine Xids (`ROBUST_CHANNEL_CEn_ERROR`, OpenRM `nverror.h`): CE0–2 39–41, CE3–5 70–72, CE6–8 75–77, CE9 85. */
function ceXids(): Record<number, string> {
	const out: Record<number, string> = {};
	const starts: [number, number][] = [
		[0, 39],
		[3, 70],
		[6, 75],
	];
	for (const [ce, xid] of starts) for (let i = 0; i < 3; i++) out[xid + i] = `copy engine ${ce + i} error`;
	out[85] = 'copy engine 9 error';
	return out;
}

/** Xid names for the exceptTypes a copy channel can see (NVIDIA's Xid documentation, `nverror.h`). */
export const XID_NAMES: Readonly<Record<number, string>> = Object.freeze({
	13: 'graphics engine exception',
	31: 'GPU memory page fault (MMU fault)',
	32: 'invalid or corrupted push buffer stream (PBDMA error)',
	43: 'GPU stopped processing',
	45: 'preemptive cleanup, due to previous errors',
	...ceXids(),
});

/** A readable description of a decoded `rpc_rc_triggered` record, and the details to keep. */
export function describeRc(
	rc: Readonly<Record<string, unknown>>,
	mmuFaultQueued: boolean,
): { readonly text: string; readonly details: Readonly<Record<string, unknown>> } {
	const exceptType = Number(rc.exceptType ?? -1);
	const name = XID_NAMES[exceptType];
	const details: Record<string, unknown> = { exceptType, xid: name ?? `Xid ${exceptType}` };
	let text = `${name ?? 'robust-channel error'} (Xid ${exceptType})`;
	if (typeof rc.mmuFaultAddrLo === 'number' && typeof rc.mmuFaultAddrHi === 'number') {
		const va = (BigInt(rc.mmuFaultAddrHi >>> 0) << 32n) | BigInt(rc.mmuFaultAddrLo >>> 0);
		if (va !== 0n || exceptType === 31) {
			details.faultAddress = `0x${va.toString(16)}`;
			text += ` at VA 0x${va.toString(16)}`;
		}
		if (typeof rc.mmuFaultType === 'number') details.faultType = rc.mmuFaultType;
	}
	if (mmuFaultQueued) {
		details.mmuFaultQueued = true;
		if (exceptType !== 31) text += ' after an MMU fault';
	}
	return { text, details };
}
