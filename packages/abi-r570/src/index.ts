/**
 * `@gspkit/abi-r570`: the GSP-RM firmware ABI of the r570 branch, generated from the published headers.
 *
 * @module
 */

import type { LayoutManifest } from '@gspkit/abi';
import manifestJson from './generated/manifest.json' with { type: 'json' };

export * as generated from './generated/constants.ts';

/** Every struct/union layout and constant of this ABI, as gcc computed them from the headers. */
export const manifest = manifestJson as unknown as LayoutManifest;
