// tools/cluster/lab-values.yaml (the real node's locally built images) on top of the minikube
// environment changes the images and, as the local stack does, turns nginx's per-client limits off
// (the tests' load comes from one address), nothing else; every image it names is a local one that
// tools/lab-images.sh builds.
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { render, repoRoot } from './chart.ts';

const minikube = path.join(repoRoot, 'environments/minikube/values.yaml');
const lab = path.join(repoRoot, 'tools/cluster/lab-values.yaml');

/** Every line of the rendered stream, the image lines set apart (helm test hook included). */
function split(yaml: string): { images: string[]; rest: string[] } {
  const lines = yaml.split('\n');
  return {
    images: lines.filter((l) => /^\s*image: /.test(l)).map((l) => l.trim()),
    rest: lines.filter((l) => !/^\s*image: /.test(l)),
  };
}

const perClientOff = ['nginx.config.limits.perClient.connections=0', 'nginx.config.limits.perClient.rate=0'];
const env = split((await render(perClientOff, [minikube], [])).yaml);
const withLab = split((await render([], [minikube, lab], [])).yaml);

t.same(withLab.rest, env.rest, 'only image lines differ from the minikube environment (limits off)');
t.equal(withLab.images.length, env.images.length, 'the same containers');
t.ok(withLab.images.length >= 6, `${withLab.images.length} images`);
for (const line of new Set(withLab.images))
  t.match(line, /^image: "?localhost\/[a-z-]+:[\w.-]+"?$/, `${line}: a local image`);

// Each local repository is one tools/lab-images.sh builds.
const script = readFileSync(path.join(repoRoot, 'tools/lab-images.sh'), 'utf8');
for (const repo of new Set(withLab.images.map((l) => /localhost\/([a-z-]+)/.exec(l)?.[1])))
  t.ok(script.includes(`localhost/${repo}`), `tools/lab-images.sh builds localhost/${repo}`);
