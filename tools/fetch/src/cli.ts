#!/usr/bin/env node
/**
 * `gspkit-fetch`: fetch GSP firmware and the published GSP-RM ABI headers into the gspkit cache.
 * Run with `npx tsx tools/fetch/src/cli.ts <command>`; `--help` lists the commands.
 *
 * @module
 */

import { main } from './program.ts';

process.exitCode = await main(process.argv.slice(2));
