import { describe, expect, it } from 'vitest';
import {
	ERRNO,
	type Errno,
	errnoFromNumber,
	errnoNumber,
	GspkitError,
	HAL_ERROR_CODES,
	InvalidArgumentError,
	isErrno,
	isGspkitError,
	OutOfMemoryError,
	RegisterDecodeError,
	TimeoutError,
	UnsupportedChipError,
} from '../src/index.ts';

describe('errno', () => {
	// Linux x86-64 values (asm-generic/errno-base.h, errno.h), written out independently.
	const linux: Record<Errno, number> = {
		EPERM: 1,
		ENOENT: 2,
		EINTR: 4,
		EIO: 5,
		ENXIO: 6,
		E2BIG: 7,
		EBADF: 9,
		EAGAIN: 11,
		ENOMEM: 12,
		EACCES: 13,
		EFAULT: 14,
		EBUSY: 16,
		EEXIST: 17,
		ENODEV: 19,
		EINVAL: 22,
		ENOTTY: 25,
		ENOSPC: 28,
		ERANGE: 34,
		ENOSYS: 38,
		ETIME: 62,
		EOPNOTSUPP: 95,
		ETIMEDOUT: 110,
		ECANCELED: 125,
	};

	it('maps every name to its Linux x86-64 number', () => {
		for (const [name, n] of Object.entries(linux)) expect(errnoNumber(name as Errno), name).toBe(n);
		expect(Object.keys(ERRNO).sort()).toEqual(Object.keys(linux).sort());
	});

	it('agrees with the running Node.js on Linux', () => {
		// os.constants.errno is the host's table; only meaningful on Linux x86-64.
		if (process.platform !== 'linux' || process.arch !== 'x64') return;
		return import('node:os').then(({ constants }) => {
			for (const name of Object.keys(linux) as Errno[]) {
				const host = (constants.errno as Record<string, number | undefined>)[name];
				if (host !== undefined) expect(errnoNumber(name), name).toBe(host);
			}
		});
	});

	it('maps numbers back to names, ignoring the sign', () => {
		expect(errnoFromNumber(110)).toBe('ETIMEDOUT');
		expect(errnoFromNumber(-22)).toBe('EINVAL');
		expect(errnoFromNumber(3)).toBeUndefined();
		expect(isErrno('ENOMEM')).toBe(true);
		expect(isErrno('toString')).toBe(false);
	});
});

describe('GspkitError', () => {
	it('carries code, errno, frozen details and cause', () => {
		const cause = new Error('inner');
		const e = new GspkitError('X_CODE', 'msg', { errno: 'EBUSY', details: { a: 1 }, cause });
		expect(e).toBeInstanceOf(Error);
		expect(e.code).toBe('X_CODE');
		expect(e.errno).toBe('EBUSY');
		expect(e.errnoNumber).toBe(16);
		expect(e.details).toEqual({ a: 1 });
		expect(Object.isFrozen(e.details)).toBe(true);
		expect(e.cause).toBe(cause);
		expect(e.name).toBe('GspkitError');
		const bare = new GspkitError('Y', 'm');
		expect(bare.errno).toBeUndefined();
		expect(bare.details).toEqual({});
		expect(isGspkitError(e, 'X_CODE')).toBe(true);
		expect(isGspkitError(e, 'Y')).toBe(false);
		expect(isGspkitError(new Error('x'))).toBe(false);
	});

	it('subclasses have stable codes and errnos', () => {
		const cases: [GspkitError, string, Errno, string][] = [
			[
				new UnsupportedChipError(0x1, 0x2, 'unknown-chipset', 'x'),
				'HAL_UNSUPPORTED_CHIP',
				'ENODEV',
				'UnsupportedChipError',
			],
			[new TimeoutError('thing', 5n, 3), 'HAL_TIMEOUT', 'ETIMEDOUT', 'TimeoutError'],
			[new RegisterDecodeError('R', 'f', 7), 'HAL_REGISTER_DECODE', 'EIO', 'RegisterDecodeError'],
			[new OutOfMemoryError('full'), 'HAL_OUT_OF_MEMORY', 'ENOMEM', 'OutOfMemoryError'],
			[new InvalidArgumentError('bad'), 'HAL_INVALID_ARGUMENT', 'EINVAL', 'InvalidArgumentError'],
		];
		for (const [e, code, errno, name] of cases) {
			expect(e).toBeInstanceOf(GspkitError);
			expect(e.code).toBe(code);
			expect(e.errno).toBe(errno);
			expect(e.name).toBe(name);
			expect(HAL_ERROR_CODES).toContain(code);
		}
	});

	it('formats raw chip registers as hex in the message and details', () => {
		const e = new UnsupportedChipError(0x140000a1, 0x14000000, 'unknown-architecture', 'Volta');
		expect(e.message).toContain('0x140000a1');
		expect(e.message).toContain('0x14000000');
		expect(e.details).toMatchObject({
			boot0: '0x140000a1',
			boot42: '0x14000000',
			reason: 'unknown-architecture',
		});
		// Signed int32 inputs (results of JS bit operations) are shown unsigned.
		const neg = new UnsupportedChipError(0xb0000000 | 0, 0, 'unknown-chipset', 'x');
		expect(neg.message).toContain('0xb0000000');
		expect(neg.boot0).toBe(0xb0000000);
	});

	it('TimeoutError names what, the timeout and the last value', () => {
		const e = new TimeoutError('HWCFG2.MEM_SCRUBBING == 0', 20_000_000n, 0x1000);
		expect(e.message).toContain('HWCFG2.MEM_SCRUBBING == 0');
		expect(e.message).toContain('20 ms');
		expect(e.message).toContain('0x1000');
		expect(e.details).toMatchObject({
			what: 'HWCFG2.MEM_SCRUBBING == 0',
			timeoutNs: '20000000',
			lastValue: 0x1000,
		});
		expect(e.timeoutNs).toBe(20_000_000n);
	});

	it('RegisterDecodeError names register, field and raw value', () => {
		const e = new RegisterDecodeError('GSP.NV_PFALCON_FALCON_HWCFG1', 'security_model', 1);
		expect(e.message).toContain('GSP.NV_PFALCON_FALCON_HWCFG1.security_model');
		expect(e.message).toContain('0x1');
		expect(e).toMatchObject({ register: 'GSP.NV_PFALCON_FALCON_HWCFG1', field: 'security_model', raw: 1 });
	});
});
