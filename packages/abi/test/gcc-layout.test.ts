/**
 * THE GCC COMPARISON: every struct of fixtures/layouts.h is compiled by gcc and its sizeof, _Alignof,
 * offsetof/sizeof of every field, bit-field masks and nested offsetof paths are compared with the
 * layouts the runtime computes (fixtures/layouts.ts).
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { offsetof } from '../src/index.ts';
import * as fx from './fixtures/layouts.ts';
import { gccLayouts, HAVE_GCC, ourLayout, probesFor } from './support/gcc.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

if (!HAVE_GCC)
	console.warn('[@gspkit/abi] gcc not found: skipping the gcc layout comparison (install gcc to run it)');

describe.skipIf(!HAVE_GCC)('computed layouts equal gcc (x86-64) for fixtures/layouts.h', () => {
	const gcc = HAVE_GCC ? gccLayouts('#include "layouts.h"', probesFor(fx.ALL, fx.PATHS), [FIXTURES]) : {};

	it('probes every record of the header', () => {
		expect(Object.keys(gcc)).toEqual(fx.ALL.map((l) => l.name));
		expect(fx.ALL.length).toBeGreaterThanOrEqual(20);
	});

	for (const l of fx.ALL) {
		it(`${l.kind} ${l.name}`, () => {
			expect(ourLayout(l, fx.PATHS[l.name] ?? [], offsetof)).toEqual(gcc[l.name]);
		});
	}

	it('reproduces the GSP facts the reference states (80-byte element+RPC header, 32-byte msgq header)', () => {
		expect(offsetof(fx.QueueElement, 'rpc')).toBe(48);
		expect(offsetof(fx.QueueElement, 'rpc.rpc_message_data')).toBe(80);
		expect(fx.MsgqTxHeader.size).toBe(32);
		expect(offsetof(fx.MsgqTxHeader, 'entryOff')).toBe(0x1c);
	});
});
