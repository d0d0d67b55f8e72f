// The workflow editor: a palette, the canvas (React Flow), the selected node's settings or the
// run panel, and the problems validation finds. Lazy-loaded with React Flow and its styles.
import '@xyflow/react/dist/style.css';
import './workflows.css';
import { useCallback, useEffect, useMemo, useState, type DragEvent } from 'react';
import {
  addEdge,
  applyEdgeChanges,
  applyNodeChanges,
  Background,
  Controls,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  type Connection,
  type Edge,
  type EdgeChange,
  type NodeChange,
} from '@xyflow/react';
import { describeError } from '../api/client';
import { ErrorNote } from '../components/Busy';
import { hrefFor } from '../lib/router';
import { wfApi } from './api';
import { startInputs } from './forms';
import { defaultConfig, newEdgeId, newNodeId, placeNew, toFlowEdge, toFlowNode, toGraph, TYPE_LABELS, type StepNode } from './graph';
import { NodePanel } from './NodePanel';
import { RunPanel } from './RunPanel';
import { CanvasContext, nodeTypes } from './StepNode';
import { NODE_TYPES, type Problem, type Validation, type Workflow } from './types';
import { useRun } from './useRun';

const DRAG_TYPE = 'application/x-hearth-node';
const VALIDATE_MS = 400;

/** What Save would send, as text: equal to the saved one means nothing to save. */
function snapshot(name: string, description: string, graphJson: string): string {
  return `${JSON.stringify([name, description])}${graphJson}`;
}

function Palette({ onAdd }: { onAdd: (kind: string) => void }) {
  return (
    <nav className="wf-palette" aria-label="Add a node">
      <span className="muted small">Add</span>
      {NODE_TYPES.map((t) => (
        <button
          key={t}
          type="button"
          className={`btn small wf-palette-item kind-${t}`}
          data-testid={`palette-${t}`}
          draggable
          onDragStart={(e) => {
            e.dataTransfer.setData(DRAG_TYPE, t);
            e.dataTransfer.effectAllowed = 'move';
          }}
          onClick={() => onAdd(t)}
          title={`Add a node: ${TYPE_LABELS[t]} (click, or drag it onto the canvas)`}
        >
          {TYPE_LABELS[t]}
        </button>
      ))}
    </nav>
  );
}

function Problems({ validation, onPick }: { validation: Validation | null; onPick: (p: Problem) => void }) {
  if (!validation) return <div className="wf-problems" data-testid="wf-problems" />;
  return (
    <div className="wf-problems" data-testid="wf-problems" aria-live="polite">
      {validation.problems.length === 0 ? (
        <p className="ok-text small">No problems: the workflow can run.</p>
      ) : (
        <ul aria-label="Problems">
          {validation.problems.map((p, i) => (
            <li key={i}>
              <button type="button" className="wf-problem" onClick={() => onPick(p)} disabled={!p.node_id && !p.edge_id}>
                {p.node_id ? <code>{p.node_id}</code> : p.edge_id ? <code>edge {p.edge_id}</code> : null}
                <span>{p.message}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Editor({ id }: { id: string }) {
  const rf = useReactFlow<StepNode, Edge>();
  const [loaded, setLoaded] = useState<Workflow | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [nodes, setNodes] = useState<StepNode[]>([]);
  const [edges, setEdges] = useState<Edge[]>([]);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [saved, setSaved] = useState('');
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [validation, setValidation] = useState<Validation | null>(null);
  const [tab, setTab] = useState<'node' | 'run'>('node');
  const runner = useRun(id);

  useEffect(() => {
    let gone = false;
    wfApi.get(id).then(
      (wf) => {
        if (gone) return;
        const ns = wf.nodes.map(toFlowNode);
        const es = wf.edges.map(toFlowEdge);
        setNodes(ns);
        setEdges(es);
        setName(wf.name);
        setDescription(wf.description ?? '');
        setSaved(snapshot(wf.name, wf.description ?? '', JSON.stringify(toGraph(ns, es))));
        setLoaded(wf);
      },
      (e) => !gone && setLoadError(e),
    );
    return () => {
      gone = true;
    };
  }, [id]);

  const graph = useMemo(() => toGraph(nodes, edges), [nodes, edges]);
  // Selection and measuring change `nodes` too; the key changes only with the definition.
  const graphKey = useMemo(() => JSON.stringify(graph), [graph]);
  const current = snapshot(name, description, graphKey);
  const dirty = loaded !== null && current !== saved;

  // Validation, shortly after each change of the graph.
  useEffect(() => {
    if (!loaded) return;
    const ctrl = new AbortController();
    const t = setTimeout(() => {
      wfApi.validate(JSON.parse(graphKey), ctrl.signal).then(setValidation, (e) => {
        if ((e as Error)?.name !== 'AbortError') setValidation({ valid: false, problems: [{ node_id: null, edge_id: null, message: `Could not validate: ${describeError(e)}` }] });
      });
    }, VALIDATE_MS);
    return () => {
      clearTimeout(t);
      ctrl.abort();
    };
  }, [graphKey, loaded]);

  const problemsByNode = useMemo(() => {
    const m = new Map<string, string[]>();
    for (const p of validation?.problems ?? []) if (p.node_id) m.set(p.node_id, [...(m.get(p.node_id) ?? []), p.message]);
    return m;
  }, [validation]);
  const badEdges = useMemo(() => new Set((validation?.problems ?? []).map((p) => p.edge_id).filter(Boolean)), [validation]);
  const shownEdges = useMemo(
    () => edges.map((e) => (badEdges.has(e.id) ? { ...e, className: `${e.className ?? ''} has-problem`.trim() } : e)),
    [edges, badEdges],
  );
  const canvas = useMemo(() => ({ problems: problemsByNode, run: runner.view.nodes }), [problemsByNode, runner.view.nodes]);

  const save = useCallback(async (): Promise<boolean> => {
    setSaving(true);
    setSaveError(null);
    const snap = snapshot(name, description, graphKey);
    try {
      const wf = await wfApi.update(id, { name, description, nodes: graph.nodes, edges: graph.edges });
      setLoaded(wf);
      setSaved(snap);
      return true;
    } catch (e) {
      setSaveError(e);
      return false;
    } finally {
      setSaving(false);
    }
  }, [id, name, description, graph, graphKey]);

  // Ctrl+S saves; leaving the page with unsaved changes asks first.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && !e.shiftKey && e.key.toLowerCase() === 's') {
        e.preventDefault();
        if (loaded) save();
      }
    };
    const onLeave = (e: BeforeUnloadEvent) => {
      if (dirty) e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    window.addEventListener('beforeunload', onLeave);
    return () => {
      window.removeEventListener('keydown', onKey);
      window.removeEventListener('beforeunload', onLeave);
    };
  }, [save, loaded, dirty]);

  const onNodesChange = useCallback((changes: NodeChange<StepNode>[]) => setNodes((ns) => applyNodeChanges(changes, ns)), []);
  const onEdgesChange = useCallback((changes: EdgeChange[]) => setEdges((es) => applyEdgeChanges(changes, es)), []);
  const onConnect = useCallback(
    (c: Connection) =>
      setEdges((es) => {
        const handle = c.sourceHandle ?? null;
        return addEdge({ ...c, id: newEdgeId(es.map((e) => e.id)), label: handle ?? undefined, className: handle ? `branch-${handle}` : undefined }, es);
      }),
    [],
  );

  const select = useCallback((nodeId: string | null) => {
    setNodes((ns) => ns.map((n) => (n.selected === (n.id === nodeId) ? n : { ...n, selected: n.id === nodeId })));
    setEdges((es) => (es.some((e) => e.selected) ? es.map((e) => (e.selected ? { ...e, selected: false } : e)) : es));
  }, []);

  const add = useCallback(
    (kind: string, at?: { x: number; y: number }) => {
      setNodes((ns) => {
        const place = at ? { position: at, moved: {} as Record<string, { x: number; y: number }> } : placeNew(ns.map((n) => ({ id: n.id, kind: n.data.kind, position: n.position })), kind);
        const node = toFlowNode({ id: newNodeId(kind, ns.map((n) => n.id)), type: kind, position: place.position, config: defaultConfig(kind) });
        const rest = ns.map((n) => {
          const to = place.moved[n.id];
          return to || n.selected ? { ...n, position: to ?? n.position, selected: false } : n;
        });
        return [...rest, { ...node, selected: true }];
      });
      setTab('node');
      // A node placed to the right may be off screen: show everything (once it is measured).
      if (!at) rf.fitView({ padding: 0.2, maxZoom: 1 });
    },
    [rf],
  );

  const onDrop = (e: DragEvent) => {
    const kind = e.dataTransfer.getData(DRAG_TYPE);
    if (!kind) return;
    e.preventDefault();
    add(kind, rf.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
  };

  const pickProblem = (p: Problem) => {
    if (p.node_id) {
      select(p.node_id);
      setTab('node');
      rf.fitView({ nodes: [{ id: p.node_id }], maxZoom: 1, padding: 0.6, duration: 200 });
    } else if (p.edge_id) {
      select(null);
      setEdges((es) => es.map((e) => ({ ...e, selected: e.id === p.edge_id })));
    }
  };

  const showNode = (nodeId: string) => {
    select(nodeId);
    setTab('node');
  };

  const updateConfig = useCallback((nodeId: string, config: Record<string, unknown>) => {
    setNodes((ns) => ns.map((n) => (n.id === nodeId ? { ...n, data: { ...n.data, config } } : n)));
  }, []);

  if (loadError) {
    return (
      <div className="screen">
        <ErrorNote error={loadError} />
        <a href={hrefFor({ name: 'workflows' })}>Back to the workflows</a>
      </div>
    );
  }
  if (!loaded) {
    return (
      <div className="screen-loading" role="status" aria-label="Loading the workflow">
        <div className="progress indeterminate" />
      </div>
    );
  }

  const selected = nodes.filter((n) => n.selected);
  const node = selected.length === 1 ? selected[0] : null;
  const inputs = startInputs(nodes.find((n) => n.data.kind === 'start')?.data.config);
  const theme = document.documentElement.dataset.theme === 'dark' ? 'dark' : 'light';

  return (
    <div className="wf-editor">
      <div className="wf-toolbar">
        <a className="btn ghost small" href={hrefFor({ name: 'workflows' })} aria-label="Back to the workflows">
          ←
        </a>
        <input className="wf-name" data-testid="wf-name" aria-label="Workflow name" value={name} onChange={(e) => setName(e.target.value)} spellCheck={false} />
        <span className={`wf-dirty small ${dirty ? 'warn-text' : 'muted'}`} role="status">
          {saving ? 'Saving…' : dirty ? '● Unsaved changes' : 'Saved'}
        </span>
        <button className="btn primary" data-testid="wf-save" onClick={() => save()} disabled={saving || !dirty} title="Save (Ctrl+S)">
          Save
        </button>
      </div>
      {saveError ? <ErrorNote error={saveError} onDismiss={() => setSaveError(null)} /> : null}
      <div className="wf-body">
        <Palette onAdd={(k) => add(k)} />
        <div className="wf-canvas-wrap">
          <div
            className="wf-canvas"
            onDragOver={(e) => {
              if (e.dataTransfer.types.includes(DRAG_TYPE)) {
                e.preventDefault();
                e.dataTransfer.dropEffect = 'move';
              }
            }}
            onDrop={onDrop}
          >
            <CanvasContext.Provider value={canvas}>
              <ReactFlow<StepNode, Edge>
                nodes={nodes}
                edges={shownEdges}
                nodeTypes={nodeTypes}
                onNodesChange={onNodesChange}
                onEdgesChange={onEdgesChange}
                onConnect={onConnect}
                isValidConnection={(c) => c.source !== c.target}
                onNodeClick={() => setTab('node')}
                deleteKeyCode={['Delete', 'Backspace']}
                colorMode={theme}
                fitView
                fitViewOptions={{ padding: 0.2, maxZoom: 1 }}
                minZoom={0.2}
              >
                <Background />
                <Controls showInteractive={false} />
              </ReactFlow>
            </CanvasContext.Provider>
          </div>
          <Problems validation={validation} onPick={pickProblem} />
        </div>
        <aside className="wf-side" aria-label="Settings and runs">
          <div className="wf-tabs" role="tablist">
            <button role="tab" aria-selected={tab === 'node'} className={tab === 'node' ? 'active' : ''} onClick={() => setTab('node')}>
              Settings
            </button>
            <button role="tab" aria-selected={tab === 'run'} className={tab === 'run' ? 'active' : ''} onClick={() => setTab('run')}>
              Run
            </button>
          </div>
          {/* The run panel stays mounted (hidden) so the inputs typed there survive a look at a node. */}
          <div className="wf-side-body" role="tabpanel" aria-label="Run" hidden={tab !== 'run'}>
            <RunPanel runner={runner} inputs={inputs} ensureSaved={async () => !dirty || save()} onSelectNode={showNode} />
          </div>
          <div className="wf-side-body" role="tabpanel" aria-label="Settings" hidden={tab !== 'node'}>
            {node ? (
              <NodePanel key={node.id} node={node} nodes={nodes} edges={edges} problems={problemsByNode.get(node.id) ?? []} onChange={(c) => updateConfig(node.id, c)} />
            ) : (
              <div className="wf-panel-body">
                <label className="field">
                  <span>Description</span>
                  <textarea rows={3} value={description} onChange={(e) => setDescription(e.target.value)} placeholder="What this workflow does" />
                </label>
                <p className="muted small">
                  Select a node to change its settings. Add nodes from the palette (click, or drag onto the canvas); join them by dragging from a node's right handle to another's left
                  handle. Delete removes what is selected.
                </p>
                <p className="muted small">
                  Settings refer to earlier nodes' values with <code>{'{{#node_id.field#}}'}</code>.
                </p>
              </div>
            )}
          </div>
        </aside>
      </div>
    </div>
  );
}

export default function EditorScreen({ id }: { id: string }) {
  return (
    <ReactFlowProvider>
      <Editor key={id} id={id} />
    </ReactFlowProvider>
  );
}
