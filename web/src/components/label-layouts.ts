// Common self-adhesive label sheets, measured from their makers' templates (millimetres). A sheet is printed at
// 100 % scale with no page margins (the page's @page rule): each label then lands on its die-cut.
export interface LabelLayout {
  id: string;
  name: string;
  /** The CSS @page size. */
  pageSize: 'A4' | 'letter';
  pageWidthMm: number;
  pageHeightMm: number;
  columns: number;
  rows: number;
  labelWidthMm: number;
  labelHeightMm: number;
  marginTopMm: number;
  marginLeftMm: number;
  columnGapMm: number;
  rowGapMm: number;
}

const INCH = 25.4;

export const LABEL_LAYOUTS: readonly LabelLayout[] = [
  {
    id: 'l7160',
    name: 'A4, 21 a sheet (Avery L7160, 63.5 × 38.1 mm)',
    pageSize: 'A4', pageWidthMm: 210, pageHeightMm: 297,
    columns: 3, rows: 7, labelWidthMm: 63.5, labelHeightMm: 38.1,
    marginTopMm: 15.15, marginLeftMm: 7.25, columnGapMm: 2.5, rowGapMm: 0,
  },
  {
    id: 'l7163',
    name: 'A4, 14 a sheet (Avery L7163, 99.1 × 38.1 mm)',
    pageSize: 'A4', pageWidthMm: 210, pageHeightMm: 297,
    columns: 2, rows: 7, labelWidthMm: 99.1, labelHeightMm: 38.1,
    marginTopMm: 15.15, marginLeftMm: 4.65, columnGapMm: 2.5, rowGapMm: 0,
  },
  {
    id: '5160',
    name: 'Letter, 30 a sheet (Avery 5160, 2⅝ × 1 in)',
    pageSize: 'letter', pageWidthMm: 8.5 * INCH, pageHeightMm: 11 * INCH,
    columns: 3, rows: 10, labelWidthMm: 2.625 * INCH, labelHeightMm: 1 * INCH,
    marginTopMm: 0.5 * INCH, marginLeftMm: 0.1875 * INCH, columnGapMm: 0.125 * INCH, rowGapMm: 0,
  },
];

export const DEFAULT_LABEL_LAYOUT = LABEL_LAYOUTS[0]!;
export const labelLayoutById = (id: string): LabelLayout => LABEL_LAYOUTS.find((layout) => layout.id === id) ?? DEFAULT_LABEL_LAYOUT;
export const labelsPerSheet = (layout: LabelLayout) => layout.columns * layout.rows;
