/**
 * The Dockerfile, checked for coherence without a Docker engine: every COPY source exists in the
 * build context (and is not .dockerignored) or is something the build stage produces, every
 * --from names an earlier stage, ENTRYPOINT runs the file package.json's `bin` names, base images
 * are pinned to a major version, and the production image runs as a non-root user without compilers.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

interface Instruction {
  op: string;
  args: string;
  flags: Map<string, string>;
  /** Arguments after the flags: JSON exec form parsed, else split on whitespace. */
  words: string[];
}

interface Stage {
  name: string;
  base: string;
  instructions: Instruction[];
}

function parseInstruction(line: string): Instruction {
  const m = /^(\S+)\s*(.*)$/s.exec(line)!;
  const op = m[1]!.toUpperCase();
  let rest = m[2]!.trim();
  const flags = new Map<string, string>();
  for (let f = /^--([\w-]+)(?:=(\S*))?\s+/.exec(rest); f; f = /^--([\w-]+)(?:=(\S*))?\s+/.exec(rest)) {
    flags.set(f[1]!, f[2] ?? '');
    rest = rest.slice(f[0].length);
  }
  const words = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/).filter(Boolean);
  return { op, args: rest, flags, words };
}

/** Logical lines (continuations joined, comments and parser directives dropped) → stages. */
function parseDockerfile(text: string): Stage[] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#')) continue; // comments, also inside a continued RUN
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (full !== '') lines.push(full);
  }
  const stages: Stage[] = [];
  for (const line of lines) {
    const ins = parseInstruction(line);
    if (ins.op === 'FROM') {
      const [base, as, name] = ins.words;
      expect(as?.toUpperCase(), `FROM without AS: ${line}`).toBe('AS');
      stages.push({ name: name!, base: base!, instructions: [] });
    } else {
      expect(stages.length, `${ins.op} before the first FROM`).toBeGreaterThan(0);
      stages.at(-1)!.instructions.push(ins);
    }
  }
  return stages;
}

/** A .dockerignore pattern as a regex over context-relative paths (enough for plain and ** forms). */
function ignoreRegex(pattern: string): RegExp {
  const body = pattern
    .replace(/^\/+|\/+$/g, '')
    .split(/(\*\*\/|\*|\?)/)
    .map((part) =>
      part === '**/'
        ? '(?:.*/)?'
        : part === '*'
          ? '[^/]*'
          : part === '?'
            ? '[^/]'
            : part.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${body}(?:/.*)?$`);
}

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const stageByName = new Map(stages.map((s) => [s.name, s]));
const ignores = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('!'));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  scripts: Record<string, string>;
};
const tsBuild = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as {
  extends?: string;
  include: string[];
  compilerOptions: { outDir: string; rootDir: string };
};
const gyp = JSON.parse(readFileSync(join(ROOT, 'binding.gyp'), 'utf8')) as {
  targets: Array<{ target_name: string; sources: string[] }>;
};

/** The stage and its ancestors, nearest first. */
function chain(name: string): Stage[] {
  const out: Stage[] = [];
  for (let s = stageByName.get(name); s; s = stageByName.get(s.base)) out.push(s);
  return out;
}

/** The last value of an instruction along a stage's chain (USER, WORKDIR, ENTRYPOINT …). */
function effective(name: string, op: string): Instruction | undefined {
  for (const stage of chain(name)) {
    const found = stage.instructions.filter((i) => i.op === op).at(-1);
    if (found) return found;
  }
  return undefined;
}

function copies(
  stage: Stage,
): Array<{ from: string | undefined; sources: string[]; dest: string; ins: Instruction }> {
  return stage.instructions
    .filter((i) => i.op === 'COPY' || i.op === 'ADD')
    .map((ins) => ({
      from: ins.flags.get('from'),
      sources: ins.words.slice(0, -1),
      dest: ins.words.at(-1)!,
      ins,
    }));
}

function runs(stage: Stage): string {
  return stage.instructions
    .filter((i) => i.op === 'RUN')
    .map((i) => i.args)
    .join('\n');
}

/** Context paths the stage copies in, normalised (no ./, no trailing /). */
function contextInputs(stage: Stage): string[] {
  return copies(stage)
    .filter((c) => c.from === undefined)
    .flatMap((c) => c.sources.map((s) => posix.normalize(s).replace(/\/$/, '')));
}

function copiedIn(stage: Stage, path: string): boolean {
  return contextInputs(stage).some((src) => path === src || path.startsWith(`${src}/`));
}

const build = stageByName.get('build')!;
const buildWorkdir = effective('build', 'WORKDIR')!.words[0]!;

/**
 * What the build stage produces, each with the reason it does: the path (relative to its WORKDIR)
 * and a check that the stage has what producing it takes.
 */
const PRODUCTS: Array<{ path: string; why: string; check: () => void }> = [
  {
    path: 'node_modules',
    why: '`npm ci` from package.json + package-lock.json',
    check: () => {
      expect(runs(build)).toMatch(/\bnpm ci\b/);
      expect(copiedIn(build, 'package.json') && copiedIn(build, 'package-lock.json')).toBe(true);
    },
  },
  {
    path: tsBuild.compilerOptions.outDir,
    why: '`npm run build` (tsc -p tsconfig.build.json) from src/',
    check: () => {
      expect(pkg.scripts['build']).toMatch(/tsc -p tsconfig\.build\.json/);
      expect(runs(build)).toMatch(/\bnpm run build\b/);
      expect(copiedIn(build, 'tsconfig.build.json')).toBe(true);
      if (tsBuild.extends) expect(copiedIn(build, posix.normalize(tsBuild.extends))).toBe(true);
      for (const dir of tsBuild.include) expect(copiedIn(build, dir), dir).toBe(true);
    },
  },
  ...gyp.targets.map((t) => ({
    path: `build/Release/${t.target_name}.node`,
    why: `node-gyp (the package's install script, run by npm ci) from binding.gyp target ${t.target_name}`,
    check: () => {
      expect(pkg.scripts['install']).toMatch(/node-gyp rebuild/);
      expect(runs(build)).toMatch(/\bnpm ci\b/);
      expect(copiedIn(build, 'binding.gyp')).toBe(true);
      for (const src of t.sources) expect(copiedIn(build, src), src).toBe(true);
    },
  })),
];

describe('Dockerfile stages', () => {
  it('has build, runtime, dev and production stages, production last (the default target)', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'runtime', 'dev', 'production']);
  });

  it('pins every base image to a major version (no latest, no untagged), Node ≥ 20', () => {
    const images = stages.filter(
      (s) => !stageByName.has(s.base) || stages.indexOf(stageByName.get(s.base)!) >= stages.indexOf(s),
    );
    expect(images.length).toBeGreaterThan(0);
    for (const { base } of images) {
      const m = /^node:(\d+)-[a-z]+(?:-slim)?$/.exec(base);
      expect(m, `base image ${base} is not node:<major>-<distro>`).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThanOrEqual(20);
    }
  });

  it('every --from= names an earlier stage', () => {
    for (const stage of stages) {
      for (const c of copies(stage).filter((c) => c.from !== undefined)) {
        const from = stageByName.get(c.from!);
        expect(from, `COPY --from=${c.from} in ${stage.name}`).toBeDefined();
        expect(stages.indexOf(from!)).toBeLessThan(stages.indexOf(stage));
      }
    }
  });

  it('the build stage installs, builds, then drops dev dependencies', () => {
    const script = runs(build);
    expect(script).toMatch(/apt-get install[^\n]*\bpython3\b[^\n]*\bmake\b[^\n]*\bg\+\+/);
    const order = ['npm ci', 'npm run build', 'npm prune --omit=dev'].map((cmd) => script.indexOf(cmd));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });
});

describe('Dockerfile COPY sources', () => {
  const fromContext = stages.flatMap((s) =>
    copies(s)
      .filter((c) => c.from === undefined)
      .flatMap((c) => c.sources.map((src) => ({ stage: s.name, src }))),
  );
  const fromBuild = stages.flatMap((s) =>
    copies(s)
      .filter((c) => c.from === 'build')
      .flatMap((c) => c.sources.map((src) => ({ stage: s.name, src }))),
  );

  it('there are COPY lines of both kinds', () => {
    expect(fromContext.length).toBeGreaterThan(0);
    expect(fromBuild.length).toBeGreaterThan(0);
  });

  it.each(fromContext)(
    'context source $src ($stage) exists in the repository and is not .dockerignored',
    ({ src }) => {
      const path = posix.normalize(src).replace(/\/$/, '');
      expect(existsSync(join(ROOT, path)), `${path} missing`).toBe(true);
      const hit = ignores.find((p) => ignoreRegex(p).test(path));
      expect(hit, `${path} is excluded by .dockerignore pattern ${hit}`).toBeUndefined();
    },
  );

  it.each(fromBuild)(
    '--from=build source $src ($stage) is checked in or produced by the build stage',
    ({ src }) => {
      expect(src.startsWith(`${buildWorkdir}/`), `${src} is outside the build WORKDIR ${buildWorkdir}`).toBe(
        true,
      );
      const rel = posix.normalize(src.slice(buildWorkdir.length + 1)).replace(/\/$/, '');
      const product = PRODUCTS.find((p) => rel === p.path || rel.startsWith(`${p.path}/`));
      if (product) {
        product.check();
      } else {
        expect(existsSync(join(ROOT, rel)), `${rel}: neither a build product nor in the repository`).toBe(
          true,
        );
        expect(copiedIn(build, rel), `${rel} is not copied into the build stage`).toBe(true);
      }
    },
  );

  it('the products match a local build where one exists (dist/, the addon)', () => {
    const built = PRODUCTS.map((p) => join(ROOT, p.path)).filter(existsSync);
    if (built.length < PRODUCTS.length)
      console.warn('dockerfile.test: no complete local build; product paths checked from configs only');
    for (const path of built) expect(existsSync(path)).toBe(true);
    const bin = join(ROOT, pkg.bin['signerd']!);
    if (existsSync(join(ROOT, tsBuild.compilerOptions.outDir))) expect(existsSync(bin), bin).toBe(true);
  });

  it('.dockerignore keeps local builds and secrets out of the context', () => {
    for (const path of [
      'node_modules',
      'dist',
      'build/Release/x.node',
      '.signerd/tokens',
      '.git',
      'etc/hsm-pin',
      'keys/cdp.pem',
    ]) {
      expect(
        ignores.some((p) => ignoreRegex(p).test(path)),
        path,
      ).toBe(true);
    }
  });
});

describe('Dockerfile runtime images', () => {
  it.each([
    ['production', ['serve', '--config', '/etc/signerd/signerd.yaml']],
    ['dev', ['dev']],
  ])('%s: ENTRYPOINT runs the `signerd` bin from package.json; CMD %j', (name, cmd) => {
    const workdir = effective(name, 'WORKDIR')!.words[0]!;
    const entry = effective(name, 'ENTRYPOINT')!;
    expect(entry.args.startsWith('['), 'exec form').toBe(true);
    expect(entry.words).toEqual(['node', posix.join(workdir, pkg.bin['signerd']!)]);
    expect(effective(name, 'CMD')!.words).toEqual(cmd);
    // The file the entrypoint names arrives there: dist/ is copied to WORKDIR/dist.
    const distCopy = chain(name)
      .flatMap(copies)
      .find(
        (c) =>
          c.from === 'build' &&
          c.sources.some((s) => s.replace(/\/$/, '').endsWith(`/${tsBuild.compilerOptions.outDir}`)),
      );
    expect(distCopy).toBeDefined();
    expect(posix.normalize(posix.join(workdir, distCopy!.dest)).replace(/\/$/, '')).toBe(
      posix.join(workdir, tsBuild.compilerOptions.outDir),
    );
    // The native addon lands where dist/native.js loads it from (../build/Release/...).
    const addon = chain(name)
      .flatMap(copies)
      .find((c) => c.sources.some((s) => s.endsWith('signerd_native.node')));
    expect(posix.normalize(posix.join(workdir, addon!.dest))).toBe(
      posix.join(workdir, 'build/Release/signerd_native.node'),
    );
  });

  it.each(['production', 'dev'])('%s: runs as a non-root user created with a fixed uid', (name) => {
    const user = effective(name, 'USER')!.words[0]!;
    expect(['root', '0', '']).not.toContain(user.split(':')[0]);
    const created = chain(name)
      .flatMap((s) => s.instructions)
      .some((i) => i.op === 'RUN' && new RegExp(`useradd[^\\n]*--uid \\d+[^\\n]* ${user}\\b`).test(i.args));
    expect(created, `no useradd --uid … ${user}`).toBe(true);
  });

  it('production: no compilers or build tools installed, nothing taken from the build stage but its products', () => {
    const lineage = chain('production');
    expect(lineage.map((s) => s.name)).not.toContain('build');
    const script = lineage.map(runs).join('\n');
    expect(script).not.toMatch(/\b(g\+\+|gcc|clang|make|build-essential|python3|node-gyp)\b/);
    expect(script).not.toMatch(/\bnpm (ci|install)\b/);
  });

  it('production: the code is root-owned (no COPY --chown), so the daemon cannot alter it', () => {
    for (const c of chain('production').flatMap(copies))
      expect(c.ins.flags.has('chown'), c.ins.args).toBe(false);
  });

  it('production: refuses to serve as root even if started with --user root', () => {
    expect(chain('production').flatMap((s) => s.instructions)).toContainEqual(
      expect.objectContaining({ op: 'ENV', args: 'SIGNERD_REFUSE_ROOT=1' }),
    );
  });

  it('no PIN, key or secret is baked into any stage', () => {
    for (const ins of stages.flatMap((s) => s.instructions).filter((i) => i.op === 'ENV' || i.op === 'ARG')) {
      expect(ins.args).not.toMatch(/PIN|SECRET|PASSWORD|PRIVATE/i);
    }
  });
});
