/**
 * Property tests replay a fixed seed by default, so `npm test` and CI give the same verdict on the same
 * commit and a failure names a seed anyone can replay. `npm run fuzz` (GSPKIT_FC_SEED=random) explores new
 * seeds with more runs; set GSPKIT_FC_SEED=<n> to replay one it printed.
 */
import fc from 'fast-check';

const FIXED_SEED = 0x67_73_70_6b; // "gspk"
const env = process.env.GSPKIT_FC_SEED;
const seed = env === 'random' ? undefined : env === undefined || env === '' ? FIXED_SEED : Number(env);
if (seed !== undefined && !Number.isSafeInteger(seed))
	throw new Error(`GSPKIT_FC_SEED must be an integer or "random", got ${env}`);
fc.configureGlobal({ ...(seed === undefined ? {} : { seed }) });
