// The Dockerfile (issue 6): linted with dockerfile-utils (the validator behind VS Code's
// Dockerfile support; hadolint is in neither Debian's packages nor npm), held to the image's
// promises (bookworm stages, non-root numeric USER, the binary as exec-form ENTRYPOINT, no
// HEALTHCHECK), its build stage run on the build context .dockerignore leaves (configured
// always, compiled on the release pass), and its runtime package list compared with what a
// real server loads: every shared object mapped by the running release binary, dlopen()ed
// plugins included, must be installed by the runtime stage's packages or their dependencies,
// each library it links directly must come from a package listed by name, and nothing listed
// may go unused.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import dockerignore from '@balena/dockerignore';
import { DockerfileParser } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { BIN, startServer } from '../integration/harness.mjs';

const ROOT = new URL('../../', import.meta.url);
const DOCKERFILE = readFileSync(new URL('Dockerfile', ROOT), 'utf8');

// libc6 and libgcc-s1 are in every Debian image (the essential packages depend on them).
const IN_EVERY_DEBIAN_IMAGE = new Set(['libc6', 'libgcc-s1']);

// A copy of the build context `docker build .` would send: the repository's files minus those
// .dockerignore excludes (by Docker's own matching rules, as @balena/dockerignore implements
// them). Returns its directory; the caller removes it.
function buildContext() {
  const ignore = dockerignore().add(readFileSync(new URL('.dockerignore', ROOT), 'utf8').split('\n'));
  const files = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
  const context = mkdtempSync(join(tmpdir(), 'switchboard-context-'));
  for (const file of files.filter((f) => !ignore.ignores(f))) {
    mkdirSync(join(context, dirname(file)), { recursive: true });
    cpSync(new URL(file, ROOT), join(context, file));
  }
  return context;
}

// The stages, each as its FROM and the instructions up to the next FROM.
function stages(text) {
  const result = [];
  for (const instruction of DockerfileParser.parse(text).getInstructions()) {
    if (instruction.getKeyword() === 'FROM') result.push({ from: instruction, instructions: [] });
    else result.at(-1)?.instructions.push(instruction);
  }
  return result;
}

// The packages named by `apt-get install` in a stage's RUN instructions.
function aptInstalls(stage) {
  const packages = [];
  for (const run of stage.instructions.filter((i) => i.getKeyword() === 'RUN')) {
    const text = run.getArgumentsContent().replace(/\\\n/g, ' ');
    for (const match of text.matchAll(/apt-get install ([^&;|]*)/g)) {
      packages.push(...match[1].split(/\s+/).filter((w) => w && !w.startsWith('-')));
    }
  }
  return packages.sort();
}

// Whether `binary` is a sanitizer build (it then links the sanitizers' runtimes).
function linksSanitizers(binary) {
  return /\(NEEDED\).*\[lib(a|ub)san\./.test(execFileSync('readelf', ['-d', binary], { encoding: 'utf8' }));
}

// The shared libraries `binary` names directly (readelf's NEEDED), each with its path.
function neededLibraries(binary) {
  const needed = [...execFileSync('readelf', ['-d', binary], { encoding: 'utf8' }).matchAll(/\(NEEDED\).*\[(.+)\]/g)];
  const resolved = execFileSync('ldd', [binary], { encoding: 'utf8' });
  return needed.map(([, library]) => {
    const path = resolved.match(new RegExp(`^\\s*${library.replace(/[.+]/g, '\\$&')} => (\\S+)`, 'm'))?.[1];
    assert.ok(path, `ldd does not resolve ${library}:\n${resolved}`);
    return path;
  });
}

// The shared objects a running process has mapped: its NEEDED libraries, theirs, and those it
// loaded with dlopen(), such as libwebsockets' event-loop plugin, which ldd cannot see.
function mappedLibraries(pid) {
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
  return [...new Set([...maps.matchAll(/ (\/\S+\.so[.\d]*)$/gm)].map((m) => m[1]))];
}

// dpkg knows a file by the path its package installed it at: with /usr merged, /lib/x.so may
// be recorded as either /lib/x.so or /usr/lib/x.so, and a symlink by its own name.
function owningPackage(path) {
  const real = execFileSync('readlink', ['-f', path], { encoding: 'utf8' }).trim();
  const candidates = [path, real].flatMap((p) => [p, p.replace(/^\/usr\//, '/'), p.replace(/^\/(?!usr\/)/, '/usr/')]);
  for (const candidate of new Set(candidates)) {
    try {
      const owner = execFileSync('dpkg', ['-S', candidate], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      return owner.split(':')[0];
    } catch {
      // not recorded under this name; try the next
    }
  }
  assert.fail(`no Debian package holds ${path} (${real})`);
}

// `packages` and everything they depend on, as installed here (Depends and Pre-Depends; of
// alternatives, those installed).
function dependencyClosure(packages) {
  const closure = new Set();
  const pending = [...packages];
  while (pending.length > 0) {
    const name = pending.pop();
    if (closure.has(name)) continue;
    closure.add(name);
    let fields;
    try {
      fields = execFileSync('dpkg-query', ['-W', '-f=${Depends}, ${Pre-Depends}', name], { encoding: 'utf8' });
    } catch {
      continue; // an alternative that is not installed here
    }
    for (const dependency of fields.split(/[,|]/)) {
      const dependencyName = dependency.trim().split(/[\s:(]/)[0];
      if (dependencyName) pending.push(dependencyName);
    }
  }
  return closure;
}

describe('Dockerfile', () => {
  const all = stages(DOCKERFILE);
  const runtime = all.at(-1);

  it('lints clean with dockerfile-utils', () => {
    const problems = validate(DOCKERFILE).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
    assert.deepEqual(problems, []);
  });

  it('the linter is live: it flags a broken Dockerfile', () => {
    assert.ok(validate('FROM debian:bookworm\nEXPOSE 80/tcpx\nHEALTHCHECK --interval=1x CMD true\n').length >= 2);
  });

  it('is two stages on Debian bookworm, the release it is built and tested on', () => {
    assert.equal(all.length, 2, 'a build stage and a runtime stage');
    for (const { from } of all) assert.match(from.getImage(), /^debian:bookworm(-slim)?$/);
    assert.equal(runtime.from.getImage(), 'debian:bookworm-slim');
  });

  it('runs as a numeric non-root user, the binary as PID 1, with no HEALTHCHECK', () => {
    const user = runtime.instructions.filter((i) => i.getKeyword() === 'USER').at(-1);
    assert.ok(user, 'the runtime stage sets USER');
    const [uid] = user.getArgumentsContent().split(':');
    assert.match(uid, /^[1-9][0-9]*$/, 'numeric, so runAsNonRoot can check it');
    const deployment = readFileSync(new URL('k8s/base/deployment.yaml', ROOT), 'utf8');
    assert.match(deployment, new RegExp(`runAsUser: ${uid}\\b`), 'the Deployment runs as the same uid');

    const entrypoint = runtime.instructions.filter((i) => i.getKeyword() === 'ENTRYPOINT');
    assert.equal(entrypoint.length, 1);
    const argv = JSON.parse(entrypoint[0].getArgumentsContent()); // exec form: no shell in between
    const copied = runtime.instructions.find((i) => i.getKeyword() === 'COPY').getArguments().at(-1).getValue();
    assert.equal(argv[0], copied, 'ENTRYPOINT runs the binary the runtime stage copies');
    assert.ok(!/^\s*HEALTHCHECK/m.test(DOCKERFILE), 'Kubernetes probes the pod; the image has no HEALTHCHECK');
  });

  it('installs without recommends and leaves no apt lists behind, in every stage', () => {
    for (const stage of all) {
      for (const run of stage.instructions.filter((i) => /apt-get install/.test(i.getArgumentsContent() ?? ''))) {
        const text = run.getArgumentsContent();
        assert.match(text, /--no-install-recommends/);
        assert.match(text, /rm -rf \/var\/lib\/apt\/lists/);
      }
    }
  });

  it('the build context holds what the build stage compiles, and not the tests or docs', (t) => {
    const context = buildContext();
    t.after(() => rmSync(context, { recursive: true, force: true }));
    const ignore = dockerignore().add(readFileSync(new URL('.dockerignore', ROOT), 'utf8').split('\n'));
    assert.ok(ignore.ignores('tests/run.sh') && ignore.ignores('docs/benchmarks.md') && ignore.ignores('build/switchboard'));
    // The build stage's own commands, on the context alone (the release pass also compiles it).
    const build = join(context, 'build');
    execFileSync('cmake', ['-S', context, '-B', build, '-DCMAKE_BUILD_TYPE=RelWithDebInfo', '-DBUILD_TESTING=OFF'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    if (linksSanitizers(BIN)) return;
    execFileSync('cmake', ['--build', build, '--target', 'switchboard', '-j2'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const help = execFileSync(join(build, 'switchboard'), ['--help'], { encoding: 'utf8' });
    assert.match(help, /SWITCHBOARD_REDIS_PASSWORD/);
  });

  it('builds with the -dev packages server/install_deps.sh installs', () => {
    const script = readFileSync(new URL('server/install_deps.sh', ROOT), 'utf8');
    const buildPackages = script.match(/^packages=\(([^)]*)\)/m)[1].split(/\s+/).filter(Boolean).sort();
    assert.deepEqual(aptInstalls(all[0]), buildPackages);
  });

  it('the runtime stage installs what a running server loads, and nothing more', async (t) => {
    if (linksSanitizers(BIN)) {
      t.skip('a sanitizer build loads its runtimes; the release build is checked');
      return;
    }
    const srv = await startServer({}, { t });
    const loaded = new Map(mappedLibraries(srv.child.pid).map((path) => [path, owningPackage(path)]));
    const listed = aptInstalls(runtime);
    const installed = dependencyClosure([...listed, ...IN_EVERY_DEBIAN_IMAGE]);
    for (const [path, owner] of loaded) {
      assert.ok(installed.has(owner), `${path} (${owner}) is loaded but the runtime stage would not install it`);
    }
    for (const path of neededLibraries(BIN)) {
      const owner = owningPackage(path);
      assert.ok(listed.includes(owner) || IN_EVERY_DEBIAN_IMAGE.has(owner), `${path}: link dependency ${owner} is not listed`);
    }
    const owners = new Set(loaded.values());
    for (const name of listed) assert.ok(owners.has(name), `${name} is installed but nothing of it is loaded`);
  });
});
