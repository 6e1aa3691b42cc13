// Textual list substitution, exactly as Falco does it (rule_loader_compiler.cpp resolve_list):
// every occurrence of a list name delimited by the start/end of the text, blanks or `( ) , =`
// is replaced by the list's items joined with ", " (items containing a space are quoted); an
// empty list also swallows one adjacent comma. Kestrel additionally keeps an offset map so an
// error in the substituted text can still point at the original condition.

export interface ListDef {
  name: string;
  items: readonly string[];
}

export interface Substituted {
  text: string;
  /** map[i] = offset in the original text of character i of `text` (length text.length + 1) */
  map: number[];
  /** names of the lists that were substituted */
  used: Set<string>;
}

const BLANKS = ' \t\n\r';
const DELIMS = BLANKS + '(),=';

/** Falco's quote_item: wrap items with a space in double quotes unless already quoted. */
export function quoteItem(item: string): string {
  if (item.includes(' ') && item[0] !== '"' && item[0] !== "'") return `"${item}"`;
  return item;
}

/** Substitute every list (in order) into a condition. */
export function substituteLists(condition: string, lists: Iterable<ListDef>): Substituted {
  let text = condition;
  let map: number[] = Array.from({ length: condition.length + 1 }, (_, i) => i);
  const used = new Set<string>();
  for (const list of lists) {
    if (list.name === '' || !text.includes(list.name)) continue;
    const r = substituteOne(text, map, list);
    if (r !== undefined) {
      text = r.text;
      map = r.map;
      used.add(list.name);
    }
  }
  return { text, map, used };
}

function substituteOne(cnd0: string, map0: number[], list: ListDef): { text: string; map: number[] } | undefined {
  let cnd = cnd0;
  let map = map0;
  let used = false;
  const name = list.name;
  const sub = list.items.map(quoteItem).join(', ');
  let start = cnd.indexOf(name);
  while (start !== -1) {
    let end = start + name.length;
    const before = start === 0 || DELIMS.includes(cnd[start - 1] as string);
    const after = end >= cnd.length || DELIMS.includes(cnd[end] as string);
    if (before && after) {
      const anchor = map[start] ?? 0;
      while (start > 0 && BLANKS.includes(cnd[start - 1] as string)) start--;
      while (end < cnd.length && BLANKS.includes(cnd[end] as string)) end++;
      if (sub === '') {
        if (start > 0 && cnd[start - 1] === ',') start--;
        else if (end < cnd.length && cnd[end] === ',') end++;
      }
      let next = '';
      const nextMap: number[] = [];
      if (start > 0) {
        next += cnd.slice(0, start) + ' ';
        for (let i = 0; i < start; i++) nextMap.push(map[i] ?? 0);
        nextMap.push(anchor);
      }
      next += sub + ' ';
      for (let i = 0; i <= sub.length; i++) nextMap.push(anchor);
      const newStart = next.length;
      next += cnd.slice(end);
      for (let i = end; i <= cnd.length; i++) nextMap.push(map[i] ?? 0);
      cnd = next;
      map = nextMap;
      start = newStart - 1;
      used = true;
    }
    start = cnd.indexOf(name, start + 1);
  }
  return used ? { text: cnd, map } : undefined;
}
