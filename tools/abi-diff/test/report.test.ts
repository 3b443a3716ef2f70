/** The report's layout helpers: cell wrapping, column fitting, prose wrapping. */
import { describe, expect, it } from 'vitest';
import { fitColumns, wrapCell, wrapProse } from '../src/index.ts';

describe('wrapCell', () => {
	it('breaks after commas and spaces first, keeping every character', () => {
		const text = 'GspSMInfo_t, GspStaticConfigInfo, NV0080_CTRL_GPU_GET_SRIOV_CAPS_PARAMS';
		const w = wrapCell(text, 24);
		expect(w.split('\n')).toEqual([
			'GspSMInfo_t,',
			'GspStaticConfigInfo,',
			'NV0080_CTRL_GPU_GET_',
			'SRIOV_CAPS_PARAMS',
		]);
		expect(w.replace(/\n/g, ' ').replace(/ +/g, ' ')).toBe(text.replace('GET_SRIOV', 'GET_ SRIOV'));
	});

	it('splits an identifier after _ / - . and only inside a word when there is no joint', () => {
		expect(wrapCell('@gspkit/abi-r535', 10)).toBe('@gspkit/\nabi-r535');
		expect(wrapCell('ABCDEFGHIJKLMNOP', 6)).toBe('ABCDEF\nGHIJKL\nMNOP');
		expect(wrapCell('short', 10)).toBe('short');
	});

	it('leaves coloured cells alone', () => {
		const yellow = '\u001b[33mused by the driver\u001b[39m';
		expect(wrapCell(yellow, 4)).toBe(yellow);
	});
});

describe('fitColumns', () => {
	const rows = [
		['name', 'count', 'types'],
		['gsp', '5', 'ACPI_METHOD_DATA, EcidManufacturingInfo, FW_WPR_LAYOUT_OFFSET, GSP_ARGUMENTS_CACHED'],
		['wpr', '0', 'GspFwWprMeta'],
	];
	it('keeps natural widths when the table fits', () => {
		expect(fitColumns(rows, 200)).toEqual([4, 5, 83]);
	});

	it('shrinks the wide column only, to exactly the room left', () => {
		const w = fitColumns(rows, 60);
		expect(w.slice(0, 2)).toEqual([4, 5]);
		// 60 − borders and padding (3 × 3 + 1) − 4 − 5 = 41.
		expect(w[2]).toBe(41);
	});

	it('never goes below 8 columns, even when the width cannot be met', () => {
		const w = fitColumns([['a'.repeat(30), 'b'.repeat(30), 'c'.repeat(30)]], 20);
		expect(w).toEqual([8, 8, 8]);
	});
});

describe('wrapProse', () => {
	it('wraps at spaces with a hanging indent, colour codes taking no room', () => {
		const line = `    added: ${Array.from({ length: 12 }, (_, i) => `NAME_${i} (0x${i})`).join(', ')}`;
		const out = wrapProse(line, 50).split('\n');
		expect(out.length).toBeGreaterThan(2);
		for (const l of out) expect(l.length).toBeLessThanOrEqual(50);
		expect(out.slice(1).every((l) => l.startsWith('      '))).toBe(true);
		expect(out.join(' ').replace(/ +/g, ' ').trim()).toBe(line.replace(/ +/g, ' ').trim());
		const coloured = `  x ${'\u001b[33mused\u001b[39m'}`;
		expect(wrapProse(coloured, 8)).toBe(coloured);
	});
});
