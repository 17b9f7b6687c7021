/**
 * Writes client/src/wire.ts: the wire types of client/scripts/wire-spec.ts
 * (which takes them from the server's zod schemas) spelled out as plain
 * TypeScript, so the package needs nothing outside itself: no `functions/`,
 * no zod, no Node types.
 *
 *   npx tsx client/scripts/generate-wire.ts          writes it
 *   npx tsx client/scripts/generate-wire.ts --check  exits 1 when it is stale
 *
 * test/unit/client-package.test.ts fails when the file is stale, and
 * client/scripts/wire-check.ts (type-checked with the repository) proves each
 * generated type identical to the schema's.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(import.meta.dirname, '../..');
const specPath = resolve(root, 'client/scripts/wire-spec.ts');
export const wirePath = resolve(root, 'client/src/wire.ts');

/** Declarations that only name other exports are copied as written. */
const derived = /\b(In|Out|Query)<|\bresponses\.|\bschemas\./;

export function generateWire(): string {
  const program = ts.createProgram([specPath], {
    strict: true,
    exactOptionalPropertyTypes: true,
    target: ts.ScriptTarget.ES2023,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(specPath)!;
  const diagnostics = ts.getPreEmitDiagnostics(program, source);
  if (diagnostics.length > 0)
    throw new Error(ts.formatDiagnostics(diagnostics, ts.createCompilerHost({})));

  /** Types that have a name in the output: each export, and each event's data. */
  const named = new Map<ts.Type, string>();
  const exported = source.statements.filter(
    (s): s is ts.TypeAliasDeclaration | ts.InterfaceDeclaration =>
      (ts.isTypeAliasDeclaration(s) || ts.isInterfaceDeclaration(s)) &&
      !!s.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword),
  );
  for (const decl of exported) {
    const type = checker.getTypeAtLocation(decl.name);
    if (!named.has(type) && type.flags & (ts.TypeFlags.Object | ts.TypeFlags.Union))
      named.set(type, decl.name.text);
    if (decl.name.text === 'ServerEvents')
      for (const prop of type.getProperties())
        named.set(checker.getTypeOfSymbol(prop), `ServerEvents['${prop.name}']`);
  }

  /** A `readonly` property, also one a mapped type made readonly (an `as const` object's keys). */
  const internal = ts as unknown as { getCheckFlags?: (s: ts.Symbol) => number };
  const isReadonly = (prop: ts.Symbol) => {
    const decl = prop.declarations?.[0];
    if (decl && ts.getCombinedModifierFlags(decl) & ts.ModifierFlags.Readonly) return true;
    return ((internal.getCheckFlags?.(prop) ?? 0) & 8) !== 0; // CheckFlags.Readonly
  };

  const key = (name: string) => (/^[A-Za-z_$][\w$]*$/.test(name) ? name : `'${name}'`);

  function print(type: ts.Type, self: string, depth: number): string {
    const name = named.get(type);
    if (name && name !== self && !name.startsWith(`${self}[`)) return name;
    const pad = '  '.repeat(depth + 1);
    const end = '  '.repeat(depth);
    if (type.isUnion()) {
      const parts = type.types;
      // `true | false` is `boolean`, as the compiler writes it.
      const hasBool =
        parts.some(
          (t) => t.flags & ts.TypeFlags.BooleanLiteral && checker.typeToString(t) === 'true',
        ) &&
        parts.some(
          (t) => t.flags & ts.TypeFlags.BooleanLiteral && checker.typeToString(t) === 'false',
        );
      // Written as people write them: `string | null`, `T | undefined`.
      const last = (t: ts.Type) =>
        t.flags & ts.TypeFlags.Undefined ? 2 : t.flags & ts.TypeFlags.Null ? 1 : 0;
      const printed = [...parts]
        .sort((a, b) => last(a) - last(b))
        .filter((t) => !(hasBool && t.flags & ts.TypeFlags.BooleanLiteral))
        .map((t) => {
          const s = print(t, self, depth);
          return t.isIntersection() || (s.includes('=>') && !s.startsWith('{')) ? `(${s})` : s;
        });
      if (hasBool) printed.push('boolean');
      return printed.join(' | ');
    }
    if (type.isIntersection()) return type.types.map((t) => print(t, self, depth)).join(' & ');
    if (checker.isArrayType(type)) {
      const [element] = checker.getTypeArguments(type as ts.TypeReference);
      const s = print(element!, self, depth);
      return /^[\w$'[\]]+$/.test(s) ? `${s}[]` : `Array<${s}>`;
    }
    if (checker.isTupleType(type)) {
      return `[${checker
        .getTypeArguments(type as ts.TypeReference)
        .map((t) => print(t, self, depth))
        .join(', ')}]`;
    }
    if (
      type.flags & ts.TypeFlags.Object &&
      type.getCallSignatures().length === 0 &&
      type.getConstructSignatures().length === 0 &&
      !type.symbol?.valueDeclaration?.getSourceFile().hasNoDefaultLib
    ) {
      const lines: string[] = [];
      for (const info of checker.getIndexInfosOfType(type)) {
        lines.push(
          `${pad}${info.isReadonly ? 'readonly ' : ''}[key: ${checker.typeToString(info.keyType)}]: ${print(info.type, self, depth + 1)};`,
        );
      }
      for (const prop of checker.getPropertiesOfType(type)) {
        const optional = prop.flags & ts.SymbolFlags.Optional ? '?' : '';
        const readonly = isReadonly(prop) ? 'readonly ' : '';
        lines.push(
          `${pad}${readonly}${key(prop.name)}${optional}: ${print(checker.getTypeOfSymbol(prop), self, depth + 1)};`,
        );
      }
      if (lines.length === 0) return '{}';
      return `{\n${lines.join('\n')}\n${end}}`;
    }
    const text = checker.typeToString(
      type,
      undefined,
      ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType,
    );
    if (/\b(z|core|zod)\./.test(text) || text.includes('import('))
      throw new Error(`${self}: a type that would need zod or the server: ${text}`);
    return text;
  }

  const out: string[] = [
    '// Generated by client/scripts/generate-wire.ts from client/scripts/wire-spec.ts',
    "// (the server's zod schemas): do not edit; run `npx tsx client/scripts/generate-wire.ts`.",
    '',
    '/**',
    ' * The wire types (CONTRACT.md, docs/openapi.json, docs/asyncapi.json) as',
    " * plain types: the server's schemas spelled out, so this package needs",
    ' * nothing outside itself. A unit test fails when they are stale.',
    ' */',
    '',
  ];
  for (const decl of exported) {
    const jsDoc = ts
      .getJSDocCommentsAndTags(decl)
      .filter(ts.isJSDoc)
      .map((d) => d.getText(source));
    out.push(...jsDoc);
    const text = decl.getText(source);
    const self = decl.name.text;
    if (!derived.test(text)) {
      out.push(text, '');
      continue;
    }
    const type = checker.getTypeAtLocation(decl.name);
    if (ts.isInterfaceDeclaration(decl)) {
      const members = checker.getPropertiesOfType(type).map((prop) => {
        const optional = prop.flags & ts.SymbolFlags.Optional ? '?' : '';
        return `  ${key(prop.name)}${optional}: ${print(checker.getTypeOfSymbol(prop), self, 1)};`;
      });
      out.push(`export interface ${self} {`, ...members, '}', '');
    } else {
      out.push(`export type ${self} = ${print(type, self, 0)};`, '');
    }
  }
  const text = `${out.join('\n').trimEnd()}\n`;
  // Formatted as the repository formats TypeScript, so a rerun writes the same bytes.
  return execFileSync(
    resolve(root, 'node_modules/.bin/biome'),
    ['format', `--stdin-file-path=${wirePath}`],
    { input: text, encoding: 'utf8', cwd: root },
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const text = generateWire();
  if (process.argv.includes('--check')) {
    if (readFileSync(wirePath, 'utf8') !== text) {
      console.error('client/src/wire.ts is stale: run npx tsx client/scripts/generate-wire.ts');
      process.exit(1);
    }
  } else {
    writeFileSync(wirePath, text);
    console.log(`wrote ${wirePath}`);
  }
}
