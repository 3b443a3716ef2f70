/**
 * Regenerate `known-images.generated.ts` from the real firmware files.
 *
 *   npx tsx --conditions=@gspkit/source packages/gpu-sim/src/firmware-models/scripts/generate-known-images.ts [root]
 *
 * `root` is the directory holding `nvidia/` (default: the project cache
 * `~/.cache/gspkit/debian/firmware-nvidia-graphics/usr/lib/firmware`). Not part of the package's runtime.
 *
 * @module
 */

import { writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderKnownImagesModule, scanRealFirmware } from '../scan-real.ts';

const root =
	process.argv[2] ??
	join(homedir(), '.cache', 'gspkit', 'debian', 'firmware-nvidia-graphics', 'usr', 'lib', 'firmware');
const table = scanRealFirmware(
	root,
	'Debian firmware-nvidia-graphics (linux-firmware nvidia/*/gsp, nvidia/*/acr/bl.bin)',
);
const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'known-images.generated.ts');
writeFileSync(out, renderKnownImagesModule(table));
console.info(
	`wrote ${out}: ${table.gsp.length} GSP images, ${table.bootloaders.length} bootloaders, ${table.booters.length} booters, ${table.genBootloaders.length} generic bootloaders`,
);
