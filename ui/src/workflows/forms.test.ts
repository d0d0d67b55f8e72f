import { describe, expect, it } from 'vitest';
import { duplicateKeys, initialRunValues, inputToConfig, looksLikeKey, objectFromRows, parseDefault, parseNumber, patchConfig, rowsFromObject, runInputs, startInputs } from './forms';
import type { StartInput } from './types';

describe('name → value rows', () => {
  it('become an object, keeping the type of values that were not text', () => {
    const rows = rowsFromObject({ answer: '{{#llm_1.text#}}', n: 5, o: { a: [1] } });
    expect(rows).toEqual([
      { key: 'answer', value: '{{#llm_1.text#}}' },
      { key: 'n', value: '5', literal: true },
      { key: 'o', value: '{"a":[1]}', literal: true },
    ]);
    expect(objectFromRows(rows)).toEqual({ answer: '{{#llm_1.text#}}', n: 5, o: { a: [1] } });
  });

  it('leave out rows without a name; the last of two rows with a name wins', () => {
    const rows = [
      { key: ' a ', value: '1' },
      { key: '', value: 'lost' },
      { key: 'a', value: '2' },
    ];
    expect(objectFromRows(rows)).toEqual({ a: '2' });
    expect(duplicateKeys(rows)).toEqual(['a']);
    expect(rowsFromObject(null)).toEqual([]);
  });
});

describe('settings from fields', () => {
  it('numbers: empty is "not set", other text stays for validation to explain', () => {
    expect(parseNumber('')).toBeUndefined();
    expect(parseNumber(' 16 ')).toBe(16);
    expect(parseNumber('0.7')).toBe(0.7);
    expect(parseNumber('lots')).toBe('lots');
  });

  it('patching removes what is set to undefined and keeps settings the form does not know', () => {
    const c = { prompt_template: 'x', max_tokens: 16, extra: true };
    expect(patchConfig(c, { max_tokens: undefined, temperature: 0.2 })).toEqual({ prompt_template: 'x', extra: true, temperature: 0.2 });
    expect(c.max_tokens).toBe(16);
  });

  it('start inputs: typed defaults, required as a boolean', () => {
    expect(parseDefault('', 'string')).toBeUndefined();
    expect(parseDefault('3', 'number')).toBe(3);
    expect(parseDefault('true', 'boolean')).toBe(true);
    expect(parseDefault('{"a":1}', 'object')).toEqual({ a: 1 });
    expect(parseDefault('{"a":', 'object')).toBe('{"a":');
    expect(inputToConfig({ name: 'input', type: 'string', required: true })).toEqual({ name: 'input', type: 'string', required: true });
    expect(inputToConfig({ name: 'n', type: 'number', default: 2 })).toEqual({ name: 'n', type: 'number', required: false, default: 2 });
    expect(startInputs({ inputs: [{ name: 'q', type: 'weird' }, null, { name: 'n', type: 'number', required: true, default: 1 }] })).toEqual([
      { name: 'q', type: 'string', required: false },
      { name: 'n', type: 'number', required: true, default: 1 },
    ]);
  });
});

describe('the run form', () => {
  const inputs: StartInput[] = [
    { name: 'input', type: 'string', required: true },
    { name: 'n', type: 'number', default: 2 },
    { name: 'flag', type: 'boolean' },
    { name: 'obj', type: 'object' },
  ];

  it('starts from the defaults', () => {
    expect(initialRunValues(inputs)).toEqual({ input: '', n: '2', flag: false, obj: '' });
  });

  it('types the values and says what is missing or wrong', () => {
    expect(runInputs(inputs, { input: 'Ada', n: '3', flag: true, obj: '{"k":[1]}' })).toEqual({ inputs: { input: 'Ada', n: 3, flag: true, obj: { k: [1] } }, errors: {} });
    // Empty optional fields are left to the server's defaults.
    expect(runInputs(inputs, { input: 'Ada', n: '', flag: false, obj: '' })).toEqual({ inputs: { input: 'Ada', flag: false }, errors: {} });
    expect(runInputs(inputs, { input: '', n: 'x', flag: false, obj: '{' }).errors).toEqual({ input: 'Required', n: 'Not a number', obj: 'Not valid JSON' });
  });
});

describe('looksLikeKey', () => {
  it('knows credentials from ordinary header values', () => {
    for (const key of ['Bearer eyJhbGciOiJIUzI1NiJ9.abc', 'sk-proj-abc123', 'ghp_0123456789abcdef', 'AKIAABCDEFGHIJKLMNOP', 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7']) {
      expect(looksLikeKey(key), key).toBe(true);
    }
    for (const plain of ['application/json', 'no-cache', 'Bearer {{secret:TOKEN}}', '{{#start.token#}}', 'en-US,en;q=0.9', '']) {
      expect(looksLikeKey(plain), plain).toBe(false);
    }
  });
});
