// Rendering and schema validation of the manifests in k8s/, for the tests beside this file.
//
// Rendering is kubectl's own kustomize (`kubectl kustomize`), as operators run it. Validation
// has two parts, both driven by code generated from the Kubernetes OpenAPI specification:
// - the npm package kubernetes-models (and @kubernetes-models/prometheus-operator, generated from
//   prometheus-operator's CRDs), whose validate() checks types, enums, patterns and required
//   fields, but lets unknown fields through, as the OpenAPI schemas do;
// - the attribute maps of @kubernetes/client-node's generated models, walked to find fields no
//   schema has (a misspelt `form:` in a NetworkPolicy would otherwise pass, and widen the rule),
//   as `kubectl apply` with strict field validation would refuse them. prometheus-operator's
//   kinds get the first check only.

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

// Validates `object` against the schema of its apiVersion and kind, unknown fields included.
// Returns the problems found (empty when valid); an apiVersion or kind with no schema is itself
// a problem.
export async function schemaProblems(object) {
  let model;
  try {
    model = await import(modelPath(object));
  } catch {
    return [`no schema for ${object.apiVersion} ${object.kind}`];
  }
  const problems = await unknownFields(object);
  try {
    new model[object.kind](structuredClone(object)).validate();
  } catch (err) {
    problems.push(err.message);
  }
  return problems;
}

// @kubernetes/client-node's model class named `type` (V1Deployment, V1Container...), or null
// for a type that is not a model (string, number, IntOrString, Date...).
const clientModels = new Map();
async function clientModel(type) {
  if (!clientModels.has(type)) {
    let model = null;
    if (/^V\d\w+$/.test(type)) {
      try {
        model = (await import(`@kubernetes/client-node/dist/gen/models/${type}.js`))[type];
      } catch {
        model = null;
      }
    }
    clientModels.set(type, model);
  }
  return clientModels.get(type);
}

// The fields of `object` that its kind's schema does not have, as "Kind.path.field" strings.
async function unknownFields(object) {
  const version = object.apiVersion.split('/').at(-1);
  const rootType = version[0].toUpperCase() + version.slice(1) + object.kind; // apps/v1 Deployment: V1Deployment
  if (!(await clientModel(rootType))) return []; // not a built-in kind
  const problems = [];
  const walk = async (value, type, path) => {
    if (value === null || typeof value !== 'object') return;
    const element = type.match(/^Array<(.+)>$/)?.[1];
    if (element) {
      for (const [i, item] of value.entries()) await walk(item, element, `${path}[${i}]`);
      return;
    }
    const mapped = type.match(/^\{ \[key: string\]: (.+); \}$/)?.[1];
    if (mapped) {
      for (const [key, item] of Object.entries(value)) await walk(item, mapped, `${path}.${key}`);
      return;
    }
    const model = await clientModel(type);
    if (!model) return;
    const attributes = model.getAttributeTypeMap();
    for (const [key, item] of Object.entries(value)) {
      const attribute = attributes.find((a) => a.baseName === key);
      if (attribute) await walk(item, attribute.type, `${path}.${key}`);
      else problems.push(`${path}.${key}: no such field`);
    }
  };
  await walk(object, rootType, object.kind);
  return problems;
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
