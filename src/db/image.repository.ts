import type { MasterImage, ProductType } from '../contracts/domain.js';
import type { Db } from './database.js';

type ImageRow = Omit<MasterImage, 'active'> & { active: 0 | 1 };
const toImage = (row: ImageRow): MasterImage => ({ ...row, active: row.active === 1 });

export type NewImage = Omit<MasterImage, 'id' | 'active'>;

export function createImageRepository(db: Db) {
  const byId = db.prepare<[number], ImageRow>('SELECT * FROM images WHERE id = ?');
  const byFilename = db.prepare<[string], ImageRow>('SELECT * FROM images WHERE filename = ?');
  const byVersion = db.prepare<[ProductType, string], ImageRow>('SELECT * FROM images WHERE product_type = ? AND version = ?');
  const activeFor = db.prepare<[ProductType], ImageRow>('SELECT * FROM images WHERE product_type = ? AND active = 1');
  const all = db.prepare<[], ImageRow>('SELECT * FROM images ORDER BY product_type, uploaded_at DESC, id DESC');
  const insert = db.prepare<NewImage, ImageRow>(`
    INSERT INTO images (product_type, version, filename, size_bytes, sha256, description, uploaded_at, active)
    VALUES (@product_type, @version, @filename, @size_bytes, @sha256, @description, @uploaded_at, 0) RETURNING *`);
  const deactivate = db.prepare<[ProductType]>('UPDATE images SET active = 0 WHERE product_type = ? AND active = 1');
  const activate = db.prepare<[number], ImageRow>('UPDATE images SET active = 1 WHERE id = ? RETURNING *');
  const remove = db.prepare<[number]>('DELETE FROM images WHERE id = ?');
  const totalBytes = db.prepare<[], { n: number }>('SELECT coalesce(sum(size_bytes), 0) AS n FROM images');

  const map = (row: ImageRow | undefined) => (row ? toImage(row) : undefined);
  return {
    find: (id: number) => map(byId.get(id)),
    findByFilename: (filename: string) => map(byFilename.get(filename)),
    findByVersion: (product: ProductType, version: string) => map(byVersion.get(product, version)),
    findActive: (product: ProductType) => map(activeFor.get(product)),
    list: (): MasterImage[] => all.all().map(toImage),
    insert: (image: NewImage): MasterImage => toImage(insert.get(image)!),
    /** Callers run this inside a transaction so the product is never seen with two active images. */
    activate: (image: MasterImage): MasterImage => {
      deactivate.run(image.product_type);
      return toImage(activate.get(image.id)!);
    },
    delete: (id: number): void => void remove.run(id),
    totalBytes: (): number => totalBytes.get()!.n,
  };
}
export type ImageRepository = ReturnType<typeof createImageRepository>;
