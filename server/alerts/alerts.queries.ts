import type { Db } from '../../common/db';
import type { OpsSnapshot } from './alert-rules';

/** One instance's observations since its previous sample. */
export interface OpsSample {
  instanceId: string;
  requests: number;
  errors: number;
  providerErrors: Record<string, number>;
  failingChecks: string[];
  /** Jobs waiting per queue as this instance last read them, and when (undefined: unreadable). */
  queues?: { depths: Record<string, number>; readAt: number };
}

export interface AlertChange {
  name: string;
  state: 'firing' | 'ok';
  message: string;
}

export interface QueuedNotification extends AlertChange {
  id: number;
}

/**
 * The alerts' SQL (zmarty_private, sql/chat/0014_alerts.sql). Every state
 * change is one statement that flips the row only if it is not already in
 * the new state — concurrent instances queue under the row lock, and the
 * second finds nothing to change — and queues the webhook post in the same
 * statement.
 */
export function createAlertsQueries(chatDb: Db) {
  return {
    async recordSample(s: OpsSample, keepSeconds: number): Promise<void> {
      await chatDb.query(
        `with cleared as (delete from zmarty_private.ops_samples where at < now() - make_interval(secs => $6)),
              forgotten as (delete from zmarty_private.alert_notifications where sent_at < now() - interval '7 days')
         insert into zmarty_private.ops_samples (instance_id, requests, errors, provider_errors, failing_checks, queues, queues_read_at)
         values ($1, $2, $3, $4, $5, $7, $8)`,
        [
          s.instanceId,
          s.requests,
          s.errors,
          JSON.stringify(s.providerErrors),
          s.failingChecks,
          keepSeconds,
          s.queues ? JSON.stringify(s.queues.depths) : null,
          s.queues ? new Date(s.queues.readAt) : null,
        ],
      );
    },

    /**
     * Everyone's samples over the window; failing checks from each instance's
     * latest sample within `freshSeconds`; the newest queue reading of any
     * instance within `freshSeconds` (instances cache their readings, so an
     * older one may be stale).
     */
    async snapshot(windowSeconds: number, freshSeconds: number): Promise<OpsSnapshot> {
      const [row] = await chatDb.query<{
        requests: number;
        errors: number;
        provider_errors: Record<string, number>;
        failing: Record<string, number>;
        queues: Record<string, number> | null;
      }>(
        `with recent as (select * from zmarty_private.ops_samples where at > now() - make_interval(secs => $1))
         select
           (select coalesce(sum(requests), 0)::int from recent) as requests,
           (select coalesce(sum(errors), 0)::int from recent) as errors,
           (select coalesce(jsonb_object_agg(provider, n), '{}') from
              (select key as provider, sum(value::int)::int as n from recent, jsonb_each_text(provider_errors) group by key) p) as provider_errors,
           (select coalesce(jsonb_object_agg(check_name, n), '{}') from
              (select check_name, count(*)::int as n from
                 (select distinct on (instance_id) failing_checks from zmarty_private.ops_samples
                  where at > now() - make_interval(secs => $2) order by instance_id, at desc) latest,
                 unnest(latest.failing_checks) as check_name group by check_name) f) as failing,
           (select queues from zmarty_private.ops_samples where at > now() - make_interval(secs => $2) and queues is not null
            order by queues_read_at desc limit 1) as queues`,
        [windowSeconds, freshSeconds],
      );
      return {
        requests: row!.requests,
        errors: row!.errors,
        providerErrors: row!.provider_errors,
        failingChecks: row!.failing,
        ...(row!.queues ? { queues: row!.queues } : {}),
      };
    },

    /** Fires these alerts; returns the ones this call changed (not already firing). */
    fire(alerts: Array<{ name: string; message: string }>, notify: boolean): Promise<AlertChange[]> {
      if (alerts.length === 0) return Promise.resolve([]);
      return chatDb.query<AlertChange>(
        `with changed as (
           insert into zmarty_private.alerts as a (name, state, message)
           select name, 'firing', message from unnest($1::text[], $2::text[]) as f(name, message)
           on conflict (name) do update set state = 'firing', changed_at = now(), message = excluded.message
           where a.state <> 'firing'
           returning a.name, a.state, a.message
         ), queued as (
           insert into zmarty_private.alert_notifications (name, state, message) select name, state, message from changed where $3
         )
         select name, state, message from changed`,
        [alerts.map((a) => a.name), alerts.map((a) => a.message), notify],
      );
    },

    /** Resolves the firing alerts of `families` that are not in `stillFiring`; returns the ones this call changed. */
    resolve(families: string[], stillFiring: string[], notify: boolean): Promise<AlertChange[]> {
      return chatDb.query<AlertChange>(
        `with changed as (
           update zmarty_private.alerts set state = 'ok', changed_at = now()
           where state = 'firing' and split_part(name, ':', 1) = any($1::text[]) and not (name = any($2::text[]))
           returning name, state, message
         ), queued as (
           insert into zmarty_private.alert_notifications (name, state, message) select name, state, message from changed where $3
         )
         select name, state, message from changed`,
        [families, stillFiring, notify],
      );
    },

    /**
     * Claims the oldest undelivered post for `leaseSeconds` (skipping ones
     * another instance holds): one instance posts it. A post that failed is
     * retried when its lease runs out, up to `maxAttempts`.
     */
    async claimNotification(leaseSeconds: number, maxAttempts: number): Promise<QueuedNotification | undefined> {
      const [row] = await chatDb.query<QueuedNotification>(
        `update zmarty_private.alert_notifications set lease_until = now() + make_interval(secs => $1), attempts = attempts + 1
         where id = (select id from zmarty_private.alert_notifications
                     where sent_at is null and attempts < $2 and (lease_until is null or lease_until < now())
                     order by id limit 1 for update skip locked)
         returning id, name, state, message`,
        [leaseSeconds, maxAttempts],
      );
      return row;
    },

    async markSent(id: number): Promise<void> {
      await chatDb.query(`update zmarty_private.alert_notifications set sent_at = now() where id = $1`, [id]);
    },

    /** Lets a failed post be retried at the next tick rather than after its lease. */
    async releaseNotification(id: number): Promise<void> {
      await chatDb.query(`update zmarty_private.alert_notifications set lease_until = null where id = $1`, [id]);
    },
  };
}
