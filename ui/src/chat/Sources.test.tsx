import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { Citation } from '../api/types';
import { Sources } from './Sources';

function citation(n: number, title: string, cited: boolean, extra: Partial<Citation> = {}): Citation {
  return { n, document_id: `d${n}`, title, path: `/docs/${title}.md`, chunk: 0, heading: '', page: null, snippet: `${title} passage`, cited, ...extra };
}

describe('<Sources>', () => {
  it('lists the cited sources first and opens a passage on click', () => {
    render(<Sources citations={[citation(1, 'Bread', false), citation(2, 'Trains', true, { page: 3, heading: 'Timetable', snippet: 'The overnight rail leaves at 22:10.' })]} />);
    const chips = screen.getAllByRole('button');
    expect(chips.map((c) => c.textContent)).toEqual(['[2] Trains · Timetable · p. 3', '[1] Bread']);
    expect(chips[0].className).toContain('cited');
    expect(screen.queryByTestId('passage')).toBeNull();

    fireEvent.click(chips[0]);
    const passage = screen.getByTestId('passage');
    expect(passage.textContent).toContain('The overnight rail leaves at 22:10.');
    expect(passage.textContent).toContain('page 3 · Timetable');
    expect(passage.textContent).toContain('/docs/Trains.md');
    expect(chips[0].getAttribute('aria-expanded')).toBe('true');

    fireEvent.click(chips[0]);
    expect(screen.queryByTestId('passage')).toBeNull();
  });

  it('shows nothing for a reply without sources', () => {
    const { container } = render(<Sources citations={[]} />);
    expect(container.innerHTML).toBe('');
  });
});
