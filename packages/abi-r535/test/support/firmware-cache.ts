/**
 * Where `gspkit-fetch firmware` puts the real linux-firmware files (tests skip when they are absent).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** The firmware cache root (`GSPKIT_CACHE` / `XDG_CACHE_HOME` / `~/.cache/gspkit`), or undefined if absent. */
export function firmwareCache(): string | undefined {
	const cache =
		process.env.GSPKIT_CACHE !== undefined && process.env.GSPKIT_CACHE !== ''
			? resolve(process.env.GSPKIT_CACHE)
			: process.env.XDG_CACHE_HOME !== undefined && process.env.XDG_CACHE_HOME !== ''
				? resolve(process.env.XDG_CACHE_HOME, 'gspkit')
				: join(homedir(), '.cache', 'gspkit');
	const dir = join(cache, 'firmware');
	return existsSync(join(dir, 'nvidia')) ? dir : undefined;
}
