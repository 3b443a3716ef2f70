import { packageBuild } from '../../configs/tsup.base.ts';

// The CLI module is both the `gspkit-drm` bin (hence the shebang) and the importable `main`; the socket
// server is a second entry (`@gspkit/drm-driver/server`).
export default packageBuild({
	entry: { cli: 'src/cli.ts', 'server/index': 'src/server/index.ts' },
	banner: { js: '#!/usr/bin/env node' },
});
