/**
 * The recording part of the admin API (mounted behind the admin server's authentication):
 *   GET  /recording                         what is being recorded, counts, drops, findings
 *   POST /recording/:operationId/start      {"sample": 0.1, "for": "1h"}  (sample defaults to 1)
 *   POST /recording/:operationId/stop
 *   POST /recording/flush                   write out everything queued
 */
import express, { type Router } from 'express';
import { sendProblem } from '../http/problem-response.ts';
import { PROBLEMS, Problem } from '../problem.ts';
import { parseDurationMs } from '../config/units.ts';
import { MAX_RECORDING_MS, RecordingStartError, type Recorder } from './recorder.ts';

function bad(detail: string, field: string): Problem {
  return new Problem(PROBLEMS.validation, { detail, errors: [{ field, message: detail }] });
}

export function recordingAdminRouter(recorder: Recorder): Router {
  const router = express.Router();
  router.use(express.json({ limit: '16kb' }));

  router.get('/', (_req, res) => {
    res.json(recorder.status());
  });

  router.post('/flush', async (_req, res, next) => {
    try {
      await recorder.flush();
      res.json(recorder.status());
    } catch (err) {
      next(err);
    }
  });

  router.post('/:operationId/start', (req, res) => {
    const body = (req.body ?? {}) as { sample?: unknown; for?: unknown };
    const sample = body.sample === undefined ? 1 : typeof body.sample === 'string' ? Number(body.sample) : body.sample;
    if (typeof sample !== 'number' || !(sample > 0 && sample <= 1)) {
      sendProblem(res, bad(`sample must be a number above 0 and at most 1 (0.1 records one call in ten), got ${JSON.stringify(body.sample)}`, 'body.sample'));
      return;
    }
    let forMs: number | undefined;
    if (body.for !== undefined) {
      forMs = typeof body.for === 'string' ? parseDurationMs(body.for) : undefined;
      if (forMs === undefined || !(forMs > 0 && forMs <= MAX_RECORDING_MS)) {
        sendProblem(res, bad(`for must be a duration such as 30m or 1h, at most ${MAX_RECORDING_MS / 86_400_000}d, got ${JSON.stringify(body.for)}`, 'body.for'));
        return;
      }
    }
    const operationId = String(req.params.operationId);
    try {
      recorder.start(operationId, sample, forMs);
    } catch (err) {
      if (!(err instanceof RecordingStartError)) throw err;
      sendProblem(res, err.field ? bad(err.message, err.field) : new Problem(PROBLEMS.notFound, { detail: err.message }));
      return;
    }
    res.json(recorder.status().routes.find((r) => r.operationId === operationId));
  });

  router.post('/:operationId/stop', (req, res) => {
    const operationId = String(req.params.operationId);
    const was = recorder.stop(operationId);
    res.json({ operationId, stopped: was, status: recorder.status().routes.find((r) => r.operationId === operationId) ?? null });
  });

  return router;
}
