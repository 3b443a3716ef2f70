import { packageBuild } from '../../configs/tsup.base.ts';

// The library entry plus the CLI entry (bin/abi-diff.js runs dist/cli.js when it exists).
export default packageBuild({ entry: ['src/index.ts', 'src/cli.ts'] });
