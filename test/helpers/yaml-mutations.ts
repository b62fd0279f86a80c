/** Text mutations of a YAML document for config fuzzing: deletions, insertions of YAML syntax and noise. */
import fc from 'fast-check';

/** Fragments that mean something to a YAML parser: flow and block syntax, anchors, tags, merges. */
const YAML_FRAGMENTS = [
  ': ',
  ':',
  '- ',
  '{',
  '}',
  '[',
  ']',
  '&a ',
  '*a',
  '!!str ',
  '"',
  "'",
  '\n  ',
  '#',
  '? ',
  '|',
  '>',
  '\t',
  '0x',
  '0o',
  '~',
  '\u0000',
  '<<: ',
  '<<: *a',
];

export interface MutationOptions {
  /** Most characters one edit removes. */
  maxRemove: number;
  /** Most edits applied to the document. */
  maxEdits: number;
}

/** Arbitrary texts made from `base` by 1..maxEdits edits, each removing up to maxRemove characters and inserting a fragment. */
export function mutatedYaml(base: string, { maxRemove, maxEdits }: MutationOptions): fc.Arbitrary<string> {
  return fc
    .array(
      fc.record({
        at: fc.nat({ max: base.length }),
        remove: fc.nat({ max: maxRemove }),
        insert: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom(...YAML_FRAGMENTS)),
      }),
      { minLength: 1, maxLength: maxEdits },
    )
    .map((edits) => {
      let text = base;
      for (const { at, remove, insert } of edits) {
        const i = Math.min(at, text.length);
        text = text.slice(0, i) + insert + text.slice(i + remove);
      }
      return text;
    });
}
