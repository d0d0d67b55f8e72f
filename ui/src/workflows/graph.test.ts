import { describe, expect, it } from 'vitest';
import { defaultConfig, freshName, newEdgeId, newNodeId, newWorkflowGraph, outputFields, placeNew, toFlowEdge, toFlowNode, toGraph, upstreamOf, NODE_WIDTH } from './graph';

describe('new nodes', () => {
  it('get the first free <type>_<n> id', () => {
    expect(newNodeId('llm', [])).toBe('llm_1');
    expect(newNodeId('llm', ['start', 'llm_1', 'llm_3', 'code_2'])).toBe('llm_2');
    expect(newNodeId('code', ['llm_1', 'code_1', 'code_2'])).toBe('code_3');
    expect(newEdgeId(['e1', 'e2', 'x'])).toBe('e3');
  });

  const at = (id: string, kind: string, x: number, y: number) => ({ id, kind, position: { x, y } });

  it('go to the right of the nodes, below any node already there', () => {
    expect(placeNew([], 'llm')).toEqual({ position: { x: 0, y: 0 }, moved: {} });
    expect(placeNew([at('start', 'start', 0, 0), at('a', 'llm', 360, 40)], 'code')).toEqual({ position: { x: 360 + NODE_WIDTH + 80, y: 40 }, moved: {} });
    const { position } = placeNew([at('start', 'start', 0, 0), at('a', 'llm', 280, 0), at('b', 'llm', 280, 140), at('c', 'code', 560, 0)], 'http');
    expect(position).toEqual({ x: 840, y: 0 });
    // Below a node that is in the way.
    expect(placeNew([at('a', 'llm', 0, 0), at('b', 'llm', 300, 0), at('c', 'llm', 0, 100)], 'code').position.x).toBe(580);
  });

  it('go before the outputs, which move right to make room', () => {
    const nodes = [at('start', 'start', 0, 0), at('output', 'output', 360, 0), at('other', 'output', 360, 140)];
    const { position, moved } = placeNew(nodes, 'llm');
    expect(position).toEqual({ x: 280, y: 0 });
    expect(moved).toEqual({ output: { x: 560, y: 0 }, other: { x: 560, y: 140 } });
    // A new output goes after everything; nothing moves.
    expect(placeNew(nodes, 'output')).toEqual({ position: { x: 640, y: 0 }, moved: {} });
    // Outputs far enough to the right stay.
    expect(placeNew([at('start', 'start', 0, 0), at('o', 'output', 900, 0)], 'llm').moved).toEqual({});
  });

  it('start with settings for their form', () => {
    expect(defaultConfig('start')).toEqual({ inputs: [] });
    expect(defaultConfig('condition')).toEqual({ logic: 'all', rules: [{ left: '', op: 'equals', right: '' }] });
    expect(defaultConfig('output')).toEqual({ outputs: {} });
    expect(String(defaultConfig('code').code)).toContain('function main(inputs)');
  });

  it('a new workflow has a start and an output node', () => {
    const g = newWorkflowGraph();
    expect(g.nodes.map((n) => [n.id, n.type])).toEqual([
      ['start', 'start'],
      ['output', 'output'],
    ]);
    expect(g.edges).toEqual([]);
    expect(freshName([])).toBe('New workflow');
    expect(freshName(['New workflow', 'New workflow 2'])).toBe('New workflow 3');
  });
});

describe('conversions', () => {
  it('round-trip a definition through React Flow nodes and edges', () => {
    const nodes = [
      { id: 'start', type: 'start', position: { x: 0, y: 0 }, config: { inputs: [{ name: 'q', type: 'string', required: true }] } },
      { id: 'check', type: 'condition', position: { x: 260.4, y: 10.6 }, config: { logic: 'any', rules: [] } },
      { id: 'yes', type: 'output', position: { x: 520, y: 0 }, config: { outputs: { a: 'y' } } },
    ];
    const edges = [
      { id: 'e1', source: 'start', target: 'check' },
      { id: 'e2', source: 'check', target: 'yes', sourceHandle: 'true' },
    ];
    const flowNodes = nodes.map(toFlowNode);
    const flowEdges = edges.map(toFlowEdge);
    expect(flowNodes[1]).toMatchObject({ id: 'check', type: 'step', data: { kind: 'condition' } });
    expect(flowEdges[1]).toMatchObject({ sourceHandle: 'true', label: 'true' });
    const back = toGraph(flowNodes, flowEdges);
    expect(back.edges).toEqual(edges); // no sourceHandle key where there is none
    expect(back.nodes[1].position).toEqual({ x: 260, y: 11 });
    expect(back.nodes.map((n) => n.config)).toEqual(nodes.map((n) => n.config));
  });

  it('finds what a node may refer to', () => {
    const edges = [
      { source: 'start', target: 'a' },
      { source: 'a', target: 'b' },
      { source: 'start', target: 'c' },
      { source: 'c', target: 'b' },
      { source: 'b', target: 'out' },
    ];
    expect(upstreamOf('b', edges)).toEqual(['a', 'c', 'start']);
    expect(upstreamOf('start', edges)).toEqual([]);
    expect(outputFields('start', { inputs: [{ name: 'q' }, { name: '' }] })).toEqual(['q']);
    expect(outputFields('llm', {})).toContain('text');
    expect(outputFields('variable', { variables: [{ name: 'x', value: '1' }] })).toEqual(['x']);
  });
});
