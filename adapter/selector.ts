/**
 * Kubernetes label selectors in their string form, as the HPA sends `external.metric.selector`:
 * `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k` (exists), `!k` (does not exist), joined
 * by commas. Errors say which requirement is wrong.
 */
export type Requirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | '!exists' };

export class SelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelectorError';
  }
}

// Label keys: optional DNS prefix and a name; values: up to 63 of [A-Za-z0-9-_.], alphanumeric at the ends.
const KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export function parseSelector(text: string): Requirement[] {
  const requirements: Requirement[] = [];
  for (const part of splitTopLevel(text.trim())) {
    const raw = part.trim();
    if (raw === '') throw new SelectorError(`empty requirement in selector "${text}"`);
    let m: RegExpExecArray | null;
    if ((m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(raw))) {
      const values = m[3].split(',').map((v) => v.trim());
      if (values.length === 0 || values.some((v) => v === '' && values.length > 1)) throw new SelectorError(`"${raw}": expected a list of values in parentheses`);
      requirements.push({ key: checkKey(m[1], raw), op: m[2] as 'in' | 'notin', values: values.map((v) => checkValue(v, raw)) });
    } else if ((m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(raw))) {
      const op = m[2] === '!=' ? 'notin' : 'in';
      requirements.push({ key: checkKey(m[1], raw), op, values: [checkValue(m[3], raw)] });
    } else if ((m = /^!\s*(\S+)$/.exec(raw))) {
      requirements.push({ key: checkKey(m[1], raw), op: '!exists' });
    } else if (/^\S+$/.test(raw) && !/[=!<>()]/.test(raw)) {
      requirements.push({ key: checkKey(raw, raw), op: 'exists' });
    } else {
      throw new SelectorError(`"${raw}" is not a label requirement (expected k=v, k!=v, k in (a,b), k notin (a,b), k or !k)`);
    }
  }
  return requirements;
}

export function matches(requirements: readonly Requirement[], labels: Readonly<Record<string, string>>): boolean {
  return requirements.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case '!exists':
        return !has;
      case 'in':
        return has && r.values.includes(labels[r.key]);
      case 'notin':
        return !has || !r.values.includes(labels[r.key]);
    }
  });
}

/** Splits on commas outside parentheses. */
function splitTopLevel(text: string): string[] {
  if (text === '') return [];
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0) throw new SelectorError(`unbalanced ")" in selector "${text}"`);
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  if (depth !== 0) throw new SelectorError(`unbalanced "(" in selector "${text}"`);
  parts.push(current);
  return parts;
}

function checkKey(key: string, raw: string): string {
  if (!KEY.test(key) || key.length > 316) throw new SelectorError(`"${raw}": "${key}" is not a valid label key`);
  return key;
}

function checkValue(value: string, raw: string): string {
  if (value.length > 63 || !VALUE.test(value)) throw new SelectorError(`"${raw}": "${value}" is not a valid label value`);
  return value;
}
