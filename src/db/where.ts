// WHERE clauses for list filters: each condition applies only when its value was given.

export interface WhereClause {
  clause: string;
  params: Record<string, unknown>;
}

/** `conditions` maps a named parameter to [SQL using @name, value]; undefined, null and '' values are skipped. */
export function whereOf(conditions: Record<string, [sql: string, value: unknown]>): WhereClause {
  const parts: string[] = [];
  const params: Record<string, unknown> = {};
  for (const [name, [sql, value]] of Object.entries(conditions)) {
    if (value === undefined || value === null || value === '') continue;
    parts.push(sql);
    params[name] = value;
  }
  return { clause: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

/** A LIKE pattern matching `text` anywhere, with its own % and _ taken literally (use with ESCAPE '\'). */
export const containsPattern = (text: string | undefined): string | undefined =>
  text ? `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : undefined;

export const SEARCH_DEVICE_COLUMNS =
  "(hostname LIKE @search ESCAPE '\\' OR serial_number LIKE @search ESCAPE '\\' OR mac_address LIKE @search ESCAPE '\\')";

/** A closed set of status words from src/contracts as an SQL list for IN (…): "'completed', 'failed'". */
export const sqlList = (words: readonly string[]): string =>
  words
    .map((word) => {
      // Only the contracts' own identifiers belong here, never user input: refuse anything that could need quoting.
      if (!/^[a-z_]+$/.test(word)) throw new Error(`Not a status word: ${word}`);
      return `'${word}'`;
    })
    .join(', ');
