// Printable labels: one per unit of a batch or a venue (hostname, kart number, serial and a QR code). The sheet's
// content comes from the server; the QR payload rule is here so the print page and its tests agree on it.
import { Type, type Static } from 'typebox';
import { ProductType, RowId, VenueCode } from './domain.js';

/** Exactly one of the two: the units of a batch, or every unit of a venue. */
export const LabelQuery = Type.Object({ batch: Type.Optional(RowId()), venue: Type.Optional(VenueCode) }, { additionalProperties: false });
export type LabelQuery = Static<typeof LabelQuery>;

export const LabelUnit = Type.Object({
  hostname: Type.String(),
  product_type: ProductType,
  venue_code: Type.String(),
  kart_number: Type.Union([Type.Integer(), Type.Null()]),
  serial_number: Type.Union([Type.String(), Type.Null()]),
  mac_address: Type.Union([Type.String(), Type.Null()]),
  batch_id: Type.Union([Type.Integer(), Type.Null()]),
});
export type LabelUnit = Static<typeof LabelUnit>;

export const LabelSheet = Type.Object({
  /** What the sheet is for, in words: "Batch 7 "Saturday" — KXP2 at Coronado (CORO)". */
  title: Type.String(),
  /** Units holding a hostname (assigned), kart numbers first in numeric order, then by hostname. */
  units: Type.Array(LabelUnit),
});
export type LabelSheet = Static<typeof LabelSheet>;

/**
 * What a unit's QR code holds: the dashboard's deployment history filtered to its hostname, at the address the
 * sheet was printed from. A phone on the venue network opens the unit's record (state, serial, image, failure) in
 * one scan; any other scanner still reads the hostname at the end of the URL.
 */
export const labelQrPayload = (dashboardOrigin: string, hostname: string): string =>
  `${dashboardOrigin.replace(/\/+$/, '')}/deployments?search=${encodeURIComponent(hostname)}`;
