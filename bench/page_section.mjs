// What the scripts that write into docs/benchmarks.md share: the machine and checkout a page
// names, and the sections a script owns between its markers (<!-- name:begin --> ...
// <!-- name:end -->), so that each script rewrites its own section and leaves the rest alone.
// compare.mjs, which writes the whole page, keeps the sections of KEPT_SECTIONS.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

// The sections other scripts own, in the order compare.mjs puts them back.
export const KEPT_SECTIONS = ['scale_up_curve', 'pod_lifecycle'];

// "<cores> × <CPU model>, <memory> GiB, <kernel>".
export function machineDescription() {
  const model = cpus()[0]?.model ?? 'unknown CPU';
  const kernel = execFileSync('uname', ['-sr']).toString().trim();
  return `${cpus().length} × ${model}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${kernel}`;
}

// The checkout's short commit, or 'unknown' outside a git checkout.
export function commit() {
  try {
    return execFileSync('git', ['-C', here, 'rev-parse', '--short', 'HEAD']).toString().trim();
  } catch {
    return 'unknown';
  }
}

function markers(name) {
  return [`<!-- ${name}:begin -->`, `<!-- ${name}:end -->`];
}

// The section `name` of the page at `pagePath`, markers included ('' if it has none).
export function readSection(pagePath, name) {
  if (!existsSync(pagePath)) return '';
  const page = readFileSync(pagePath, 'utf8');
  const [begin, end] = markers(name);
  const a = page.indexOf(begin);
  const b = page.indexOf(end, a);
  return a >= 0 && b > a ? page.slice(a, b + end.length) : '';
}

// Puts `body` (markdown, without markers) as the section `name` of the page at `pagePath`: in
// place of the section it has, or at the end. Creates the page if there is none.
export function writeSection(pagePath, name, body) {
  const [begin, end] = markers(name);
  const text = `${begin}\n${body.replace(/\n*$/, '\n')}${end}\n`;
  let page = existsSync(pagePath) ? readFileSync(pagePath, 'utf8') : '# Benchmarks\n';
  const a = page.indexOf(begin);
  const b = page.indexOf(end, a);
  if (a >= 0 && b > a) page = page.slice(0, a) + text + page.slice(b + end.length).replace(/^\n/, '');
  else page = `${page.replace(/\n*$/, '\n\n')}${text}`;
  writeFileSync(pagePath, page);
}
