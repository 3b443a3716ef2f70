import { packageBuild } from '../../configs/tsup.base.ts';

// One entry: the CLI module, which is both the `gspkit-drm` bin (hence the shebang) and the importable `main`.
export default packageBuild({ entry: ['src/cli.ts'], banner: { js: '#!/usr/bin/env node' } });
