/**
 * PromQL syntax, checked with the Prometheus project's own grammar (`@prometheus-io/lezer-promql`, the
 * parser behind Prometheus' query editor), so a typo in a configured query is reported when the
 * configuration is read, with its position, not as a failing query at the first refresh.
 */
import { parser } from '@prometheus-io/lezer-promql';

export interface PromqlSyntaxError {
  /** 1-based line and column of the first error, e.g. `1:23`. */
  position: string;
  /** Offset of the error in the text (0-based). */
  offset: number;
  message: string;
}

/** The first syntax error of `text`, or undefined when it parses. */
export function promqlSyntaxError(text: string): PromqlSyntaxError | undefined {
  const tree = parser.parse(text);
  let offset: number | undefined;
  tree.iterate({
    enter: (node) => {
      if (offset !== undefined) return false;
      if (node.type.isError) offset = node.from;
      return undefined;
    },
  });
  if (offset === undefined) return undefined;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  const near = text.slice(offset, offset + 20).split('\n')[0];
  return {
    position: `${line}:${column}`,
    offset,
    message: offset >= text.length ? 'unexpected end of the expression' : `unexpected "${near}"`,
  };
}

const COUNTER = /_(total|count|sum|bucket)$/;

/**
 * The first metric of `text` named like a counter (`_total`, `_count`, `_sum`, `_bucket`) that is read
 * as an instant vector rather than through a range (rate, increase, ...): a load written that way grows
 * forever instead of measuring requests per second. Undefined when there is none (or on a syntax error).
 */
export function counterWithoutRate(text: string): string | undefined {
  const tree = parser.parse(text);
  let found: string | undefined;
  tree.iterate({
    enter: (node) => {
      if (found !== undefined) return false;
      if (node.type.name === 'MatrixSelector' || node.type.name === 'SubqueryExpr') return false;
      if (node.type.name === 'VectorSelector') {
        const identifier = node.node.getChild('Identifier');
        const name = identifier ? text.slice(identifier.from, identifier.to) : '';
        if (COUNTER.test(name)) found = name;
        return false;
      }
      return undefined;
    },
  });
  return found;
}

/**
 * The first series selector of `text` without a matcher on `label` (e.g. `namespace`), as written, or
 * undefined when every selector has one (or on a syntax error). A load read without a namespace
 * matcher counts the series of every namespace: any pod that exposes the metric inflates it.
 */
export function selectorWithoutLabel(text: string, label: string): string | undefined {
  const tree = parser.parse(text);
  let found: string | undefined;
  tree.iterate({
    enter: (node) => {
      if (found !== undefined) return false;
      if (node.type.name !== 'VectorSelector') return undefined;
      const names: string[] = [];
      node.node.cursor().iterate((n) => {
        if (n.type.name === 'LabelName') names.push(text.slice(n.from, n.to));
      });
      if (!names.includes(label)) found = text.slice(node.from, node.to);
      return false;
    },
  });
  return found;
}
