// Rendering and schema validation of the manifests in k8s/, for the tests beside this file.
//
// Rendering is kubectl's own kustomize (`kubectl kustomize`), as operators run it. Validation
// uses the npm package kubernetes-models: classes generated from the Kubernetes OpenAPI
// schemas (and, in @kubernetes-models/prometheus-operator, from prometheus-operator's CRDs)
// whose validate() checks types, enums, patterns and required fields. Like the API server's
// schemas they allow unknown fields, so the tests also read back every field they rely on.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

export const K8S = new URL('../../k8s/', import.meta.url);

// The objects `kubectl kustomize k8s/<dir>` prints. Throws with kubectl's message on failure.
export function render(dir) {
  let text;
  try {
    text = execFileSync('kubectl', ['kustomize', new URL(dir, K8S).pathname], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    if (err.code === 'ENOENT') throw new Error('kubectl is not installed (it renders the kustomizations)');
    throw new Error(`kubectl kustomize k8s/${dir} failed:\n${err.stderr}`);
  }
  return parseYaml(text, `k8s/${dir}`);
}

// The objects of a plain YAML file under k8s/.
export function load(file) {
  return parseYaml(readFileSync(new URL(file, K8S), 'utf8'), `k8s/${file}`);
}

function parseYaml(text, where) {
  return parseAllDocuments(text).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${where}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS();
  });
}

// The module of kubernetes-models that holds the schema of apiVersion/kind.
function modelPath({ apiVersion, kind }) {
  if (apiVersion.startsWith('monitoring.coreos.com/')) {
    return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  }
  return `kubernetes-models/${apiVersion}/${kind}`;
}

// Validates `object` against the schema of its apiVersion and kind. Returns the problems found
// (empty when valid); an apiVersion or kind with no schema is itself a problem.
export async function schemaProblems(object) {
  let model;
  try {
    model = await import(modelPath(object));
  } catch {
    return [`no schema for ${object.apiVersion} ${object.kind}`];
  }
  try {
    new model[object.kind](structuredClone(object)).validate();
    return [];
  } catch (err) {
    return [err.message];
  }
}

// The object of `kind` named `name` (or with kustomize's hash suffix after it), or the first
// of `kind` when no name is given. Throws when there is none.
export function find(objects, kind, name) {
  const named = (o) => name === undefined || o.metadata.name === name || new RegExp(`^${name}-[a-z0-9]{10}$`).test(o.metadata.name);
  const found = objects.find((o) => o.kind === kind && named(o));
  if (!found) throw new Error(`no ${kind}${name ? ` ${name}` : ''} among ${objects.map((o) => o.kind).join(', ')}`);
  return found;
}

// Whether a label selector's matchLabels all hold in `labels`.
export function selects(selector, labels) {
  return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels?.[k] === v);
}
