import type { LogLevel as TemporalLogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import { makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import type { Logger } from '../logger.js';

const LEVELS: Record<TemporalLogLevel, 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'debug',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * The Temporal SDK's logger interface over ours: worker events ("Activity failed"), workflow `log`
 * calls (delivered through the SDK's logger sink) and the Rust core's own lines all become pino
 * lines with the same redaction and error serialization as the rest of the process.
 */
export function temporalLogger(logger: Logger): TemporalLogger {
  const log = (level: TemporalLogLevel, message: string, meta?: LogMetadata) => {
    // The task token is a long opaque credential for completing the activity: noise, and not for logs.
    const { taskToken: _token, ...fields } = meta ?? {};
    logger[LEVELS[level]](message, fields);
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}

/**
 * Installs the process-wide Temporal Runtime: logs through `logger`, and, when `metricsBindAddress`
 * is set, the SDK's own metrics (task latencies, slots, poll results...) on a Prometheus endpoint.
 * Must run before the first NativeConnection is made.
 */
export function installTemporalRuntime(opts: { logger: Logger; metricsBindAddress?: string }): Runtime {
  return Runtime.install({
    logger: temporalLogger(opts.logger),
    telemetryOptions: {
      logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'WARN' }) },
      ...(opts.metricsBindAddress
        ? {
            metrics: {
              metricPrefix: 'temporal_',
              prometheus: {
                bindAddress: opts.metricsBindAddress,
                countersTotalSuffix: true,
                unitSuffix: true,
                useSecondsForDurations: true,
              },
            },
          }
        : {}),
    },
  });
}
