// Where Pitcrew keeps its state inside the data folder. Server, CLI and tests all resolve paths through here.
import { join, resolve } from 'node:path';

export const DEFAULT_DATA_DIR = 'data';

export function dataPaths(dataDir: string = process.env.PITCREW_DATA_DIR || DEFAULT_DATA_DIR) {
  const root = resolve(dataDir);
  return { root, database: join(root, 'pitcrew.db'), images: join(root, 'images') };
}
export type DataPaths = ReturnType<typeof dataPaths>;
