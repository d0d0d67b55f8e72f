// The selected node's settings, a form per node type (docs/workflows.md, "Node types").
import type { Edge } from '@xyflow/react';
import { ModelPicker } from '../components/ModelPicker';
import { useApp } from '../app/context';
import { ParsedField, KeyValueRows, ListRows, SelectField, TextField } from './fields';
import { formatValue, inputToConfig, keyLikeHeaders, parseDefault, parseNumber, patchConfig, startInputs } from './forms';
import { outputFields, ref, TYPE_LABELS, upstreamOf, type StepNode } from './graph';
import { CONDITION_OPS, TRANSFORMS, type NodeType, type StartInput } from './types';

type Config = Record<string, unknown>;
type FormProps = { config: Config; set: (patch: Config) => void };

const str = (v: unknown) => (typeof v === 'string' ? v : formatValue(v));
const list = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.filter((x) => x && typeof x === 'object') : []);
/** An optional text setting: empty leaves it out. */
const opt = (v: string) => (v === '' ? undefined : v);

const DEFAULT_TIMEOUTS: Record<string, string> = { llm: '300000', code: '5000', http: '30000', knowledge: '60000', tool: '120000' };

function StartForm({ config, set }: FormProps) {
  const inputs = startInputs(config);
  return (
    <ListRows<StartInput>
      legend="Inputs"
      noun="input"
      items={inputs}
      blank={() => ({ name: '', type: 'string', required: true })}
      onChange={(items) => set({ inputs: items.map(inputToConfig) })}
      render={(input, setInput, i) => (
        <>
          <input type="text" aria-label={`Name of input ${i + 1}`} placeholder="name" value={input.name} spellCheck={false} onChange={(e) => setInput({ ...input, name: e.target.value })} />
          <select aria-label={`Type of input ${i + 1}`} value={input.type} onChange={(e) => setInput({ ...input, type: e.target.value as StartInput['type'], default: undefined })}>
            <option value="string">string</option>
            <option value="number">number</option>
            <option value="boolean">boolean</option>
            <option value="object">object</option>
          </select>
          <label className="check">
            <input type="checkbox" checked={!!input.required} onChange={(e) => setInput({ ...input, required: e.target.checked })} /> required
          </label>
          {input.type === 'boolean' ? (
            <select aria-label={`Default of input ${i + 1}`} value={input.default === undefined ? '' : String(input.default)} onChange={(e) => setInput({ ...input, default: parseDefault(e.target.value, 'boolean') })}>
              <option value="">no default</option>
              <option value="true">true</option>
              <option value="false">false</option>
            </select>
          ) : (
            <ParsedField hideLabel label={`Default of input ${i + 1}`} placeholder={input.type === 'object' ? 'default (JSON)' : 'default'} value={input.default} parse={(t) => parseDefault(t, input.type)} onChange={(v) => setInput({ ...input, default: v })} />
          )}
        </>
      )}
    />
  );
}

function LlmForm({ config, set }: FormProps) {
  const app = useApp();
  const defaultModel = typeof app.settings.default_model === 'string' ? app.settings.default_model : '';
  return (
    <>
      <div className="field">
        <span>Model</span>
        <ModelPicker models={app.models} value={str(config.model)} defaultName={defaultModel} onChange={(m) => set({ model: opt(m) })} />
      </div>
      <TextField label="System prompt" rows={3} value={str(config.system_prompt)} onChange={(v) => set({ system_prompt: opt(v) })} />
      <TextField label="Prompt template" rows={6} value={str(config.prompt_template)} placeholder="Summarize: {{#start.input#}}" onChange={(v) => set({ prompt_template: v })} />
      <div className="grid-2">
        <ParsedField label="Temperature" inputMode="decimal" placeholder="model default" value={config.temperature} parse={parseNumber} onChange={(v) => set({ temperature: v })} />
        <ParsedField label="Max tokens" inputMode="numeric" placeholder="model default" value={config.max_tokens} parse={parseNumber} onChange={(v) => set({ max_tokens: v })} />
      </div>
    </>
  );
}

const NO_RIGHT = new Set(['empty', 'not_empty']);

function ConditionForm({ config, set }: FormProps) {
  return (
    <>
      <SelectField label="Go the true way when" value={config.logic === 'any' ? 'any' : 'all'} options={[['all', 'all rules hold'], ['any', 'any rule holds']]} onChange={(v) => set({ logic: v })} />
      <ListRows
        legend="Rules"
        noun="rule"
        items={list(config.rules)}
        blank={() => ({ left: '', op: 'equals', right: '' })}
        onChange={(rules) => set({ rules })}
        render={(r, setRule, i) => (
          <>
            <input type="text" aria-label={`Left of rule ${i + 1}`} placeholder="{{#node.field#}}" value={str(r.left)} spellCheck={false} onChange={(e) => setRule({ ...r, left: e.target.value })} />
            <select aria-label={`Operator of rule ${i + 1}`} value={str(r.op) || 'equals'} onChange={(e) => setRule(patchConfig(r, { op: e.target.value, right: NO_RIGHT.has(e.target.value) ? undefined : str(r.right) }))}>
              {CONDITION_OPS.map((op) => (
                <option key={op} value={op}>
                  {op.replace('_', ' ')}
                </option>
              ))}
            </select>
            {!NO_RIGHT.has(str(r.op)) && <input type="text" aria-label={`Right of rule ${i + 1}`} placeholder="value" value={str(r.right)} spellCheck={false} onChange={(e) => setRule({ ...r, right: e.target.value })} />}
          </>
        )}
      />
      <p className="muted small">Connect the handle marked true or false to say where each answer goes.</p>
    </>
  );
}

function CodeForm({ config, set }: FormProps) {
  return (
    <>
      <TextField label="Code" rows={10} mono value={str(config.code)} onChange={(v) => set({ code: v })} hint="JavaScript defining main(inputs), returning an object. No network, files or require." />
      <KeyValueRows legend="Inputs" noun="code input" value={config.inputs} onChange={(inputs) => set({ inputs })} valuePlaceholder="{{#node.field#}}" />
      <ParsedField label="Memory (MB)" inputMode="numeric" placeholder="64" value={config.memory_mb} parse={parseNumber} onChange={(v) => set({ memory_mb: v })} />
    </>
  );
}

function HttpForm({ config, set }: FormProps) {
  const exposed = keyLikeHeaders(config.headers);
  return (
    <>
      <div className="row">
        <SelectField label="Method" value={str(config.method) || 'GET'} options={['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']} onChange={(v) => set({ method: v })} />
        <div className="grow">
          <TextField label="URL" value={str(config.url)} placeholder="https://…" onChange={(v) => set({ url: v })} />
        </div>
      </div>
      <KeyValueRows legend="Headers" noun="header" value={config.headers} onChange={(headers) => set({ headers: Object.keys(headers).length ? headers : undefined })} />
      <small className="muted">To send a key, store it as a secret for the URL's origin (`hearth workflow secret set NAME --origin URL`, or PUT /api/v1/secrets/NAME) and write {'{{secret:NAME}}'} in the value: it stays in the keychain.</small>
      {exposed.length > 0 && (
        <p className="warn-text" role="alert">
          {exposed.join(', ')}: this looks like a key. Written here it is saved in plain text with the workflow, synced and exported with it. Store it as a secret and write {'{{secret:NAME}}'} instead.
        </p>
      )}
      <TextField label="Body" rows={4} mono value={str(config.body)} onChange={(v) => set({ body: opt(v) })} />
      <ParsedField label="Max response bytes" inputMode="numeric" placeholder="1048576" value={config.max_response_bytes} parse={parseNumber} onChange={(v) => set({ max_response_bytes: v })} />
      <div className="wf-check">
        <label className="check">
          <input type="checkbox" checked={config.allow_local === true} onChange={(e) => set({ allow_local: e.target.checked || undefined })} /> Allow local and private network addresses
        </label>
        <small className="muted">Off, the node reaches only public addresses: not this computer, your network or cloud metadata. Turn on to call a service there, such as http://localhost:8080.</small>
      </div>
    </>
  );
}

function VariableForm({ config, set }: FormProps) {
  return (
    <ListRows
      legend="Variables"
      noun="variable"
      items={list(config.variables)}
      blank={() => ({ name: '', value: '' })}
      onChange={(variables) => set({ variables })}
      render={(v, setVar, i) => (
        <>
          <input type="text" aria-label={`Name of variable ${i + 1}`} placeholder="name" value={str(v.name)} spellCheck={false} onChange={(e) => setVar({ ...v, name: e.target.value })} />
          <input type="text" aria-label={`Value of variable ${i + 1}`} placeholder="value or {{#node.field#}}" value={str(v.value)} spellCheck={false} onChange={(e) => setVar({ ...v, value: e.target.value })} />
          <select aria-label={`Transform of variable ${i + 1}`} value={str(v.transform)} onChange={(e) => setVar(patchConfig(v, { transform: opt(e.target.value) }))}>
            <option value="">as is</option>
            {TRANSFORMS.map((t) => (
              <option key={t} value={t}>
                {t.replace('_', ' ')}
              </option>
            ))}
          </select>
        </>
      )}
    />
  );
}

function KnowledgeForm({ config, set }: FormProps) {
  return (
    <>
      <TextField label="Workspace" value={str(config.workspace)} placeholder="handle, e.g. notes" onChange={(v) => set({ workspace: v })} hint="The workspace whose documents are searched (its handle or id)." />
      <TextField label="Query" rows={3} value={str(config.query)} placeholder="{{#start.question#}}" onChange={(v) => set({ query: v })} />
      <ParsedField label="Passages (1–20)" inputMode="numeric" placeholder="5" value={config.limit} parse={parseNumber} onChange={(v) => set({ limit: v })} />
      <small className="muted">Outputs: text (the passages numbered as sources, for an LLM node's prompt), chunks (each with its document, page and score) and count.</small>
    </>
  );
}

function ToolForm({ config, set }: FormProps) {
  return (
    <>
      <TextField label="Tool" value={str(config.tool)} placeholder="current_time, or server__tool" onChange={(v) => set({ tool: v })} hint="Any tool a chat can call: Hearth's own, or an attached MCP server's as server__tool (the Tools screen lists the servers)." />
      <KeyValueRows legend="Arguments" noun="argument" value={config.arguments} onChange={(args) => set({ arguments: args })} valuePlaceholder="text or {{#node.field#}}" />
      <TextField label="Workspace" value={str(config.workspace)} placeholder="the first one" onChange={(v) => set({ workspace: v })} hint="The workspace the call is for (its handle or id): the one whose documents search_knowledge reads." />
      <small className="muted">
        Outputs: text (the tool's answer) and json (the answer parsed, when it is JSON). A tool that changes things runs only once you have allowed it for good ("Always allow" on a call in a chat).
      </small>
    </>
  );
}

function OutputForm({ config, set }: FormProps) {
  return <KeyValueRows legend="Outputs" noun="output" value={config.outputs} onChange={(outputs) => set({ outputs })} valuePlaceholder="{{#node.field#}}" />;
}

function CommonForm({ kind, config, set }: FormProps & { kind: string }) {
  return (
    <div className="grid-2">
      <ParsedField label="Timeout (ms)" inputMode="numeric" placeholder={DEFAULT_TIMEOUTS[kind] ?? 'none'} value={config.timeout_ms} parse={parseNumber} onChange={(v) => set({ timeout_ms: v })} />
      <ParsedField label="Retries (0–5)" inputMode="numeric" placeholder="0" value={config.retries} parse={parseNumber} onChange={(v) => set({ retries: v })} />
    </div>
  );
}

const FORMS: Record<string, (p: FormProps) => JSX.Element> = {
  start: StartForm,
  llm: LlmForm,
  condition: ConditionForm,
  code: CodeForm,
  http: HttpForm,
  variable: VariableForm,
  output: OutputForm,
  knowledge: KnowledgeForm,
  tool: ToolForm,
};

/** What the node can refer to: the fields of the nodes upstream of it. */
function References({ node, nodes, edges }: { node: StepNode; nodes: StepNode[]; edges: Edge[] }) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const refs = upstreamOf(node.id, edges).flatMap((id) => {
    const n = byId.get(id);
    if (!n) return [];
    const fields = outputFields(n.data.kind, n.data.config);
    return fields.length ? fields.map((f) => ref(id, f)) : [ref(id, 'field')];
  });
  return (
    <div className="wf-refs">
      <p className="muted small">
        Use a value from an earlier node with <code>{'{{#node_id.field#}}'}</code>, e.g. <code>{'{{#start.input#}}'}</code>; a path goes deeper: <code>{'{{#fetch.body.items.0.name#}}'}</code>.
      </p>
      {refs.length > 0 && (
        <p className="small">
          Available here:{' '}
          {refs.slice(0, 24).map((r) => (
            <code key={r} className="wf-ref">
              {r}
            </code>
          ))}
        </p>
      )}
    </div>
  );
}

export function NodePanel({ node, nodes, edges, problems, onChange }: { node: StepNode; nodes: StepNode[]; edges: Edge[]; problems: string[]; onChange: (config: Config) => void }) {
  const { kind, config } = node.data;
  const set = (patch: Config) => onChange(patchConfig(config, patch));
  const Form = FORMS[kind];
  return (
    <div className="wf-panel-body" data-testid="wf-panel" aria-label={`Settings of ${node.id}`}>
      <h2>
        {TYPE_LABELS[kind as NodeType] ?? kind} <code className="wf-panel-id" title="The node's id, used in references">{node.id}</code>
      </h2>
      {problems.length > 0 && (
        <ul className="wf-panel-problems error-text small">
          {problems.map((p, i) => (
            <li key={i}>{p}</li>
          ))}
        </ul>
      )}
      {kind !== 'start' && <References node={node} nodes={nodes} edges={edges} />}
      {Form ? <Form config={config} set={set} /> : <p className="muted">This version of the app has no form for “{kind}” nodes.</p>}
      {kind !== 'start' && <CommonForm kind={kind} config={config} set={set} />}
    </div>
  );
}
