{{- /* The alerts, one place: rendered with tpl into the PrometheusRule's spec. */ -}}
{{- $ns := printf "namespace=%q" .Release.Namespace -}}
{{- $svc := printf "job=%q,%s" (include "hc.serviceName" .) $ns -}}
{{- $redis := printf "job=%q,%s" (include "hc.redisName" .) $ns -}}
{{- $r := .Values.rules -}}
{{- $runbook := $r.runbookBaseUrl -}}
groups:
  - name: hit-counter
    rules:
      - alert: HitCounterDown
        expr: sum by (namespace, job) (up{ {{- $svc -}} }) == 0 or absent(up{ {{- $svc -}} })
        for: 2m
        labels:
          severity: critical
        annotations:
          summary: Every hit-counter replica is down
          description: No replica of {{ include "hc.serviceName" . }} in {{ .Release.Namespace }} answers its metrics scrape; visitors get errors.
          runbook_url: {{ $runbook }}#hitcounterdown
      - alert: HitCounterHigh5xxRatio
        expr: |-
          sum(rate(http_request_duration_seconds_count{ {{- $svc -}} ,status_code=~"5.."}[5m]))
            / sum(rate(http_request_duration_seconds_count{ {{- $svc -}} }[5m])) > {{ $r.errorRatio }}
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: Many hit-counter requests fail
          description: {{ "More than" }} {{ mulf $r.errorRatio 100 }}% of requests answered 5xx over 5 minutes (Redis unreachable or slow?).
          runbook_url: {{ $runbook }}#hitcounterhigh5xxratio
      - alert: HitCounterHighLatency
        expr: |-
          histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{ {{- $svc -}} ,route="/"}[5m]))) > {{ $r.p99Seconds }}
        for: 10m
        labels:
          severity: warning
        annotations:
          summary: hit-counter p99 latency is high
          description: The 99th percentile of GET / took more than {{ $r.p99Seconds }}s over 10 minutes.
          runbook_url: {{ $runbook }}#hitcounterhighlatency
      - alert: HitCounterLogLinesDropped
        expr: sum by (namespace, job, pod) (increase(hitcounter_log_lines_dropped_total{ {{- $svc -}} }[10m])) > 0
        labels:
          severity: warning
        annotations:
          summary: A hit-counter replica drops log lines
          description: A replica of {{ include "hc.serviceName" . }} in {{ .Release.Namespace }} dropped log lines in the last 10 minutes; its stdout fell more than 1 MiB behind (the node's log pipeline is slow or stuck), so those request lines are lost.
          runbook_url: {{ $runbook }}#hitcounterloglinesdropped
  - name: hit-counter-redis
    rules:
      - alert: RedisDown
        expr: redis_up{ {{- $redis -}} } == 0 or absent(redis_up{ {{- $redis -}} })
        for: 2m
        labels:
          severity: critical
        annotations:
          summary: Redis of hit-counter is down or not scraped
          description: redis_exporter reports Redis down, or its series vanished (exporter or pod gone); hits are not counted.
          runbook_url: {{ $runbook }}#redisdown
      - alert: RedisVolumeFilling
        expr: |-
          kubelet_volume_stats_available_bytes{ {{- $ns -}} ,persistentvolumeclaim=~".*{{ include "hc.redisName" . }}.*"}
            / kubelet_volume_stats_capacity_bytes{ {{- $ns -}} ,persistentvolumeclaim=~".*{{ include "hc.redisName" . }}.*"} < {{ $r.volumeFreeRatio }}
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: A Redis volume is filling up
          description: {{ "Less than" }} {{ mulf $r.volumeFreeRatio 100 }}% free on a Redis data or backup volume; AOF writes or backups will fail when it is full.
          runbook_url: {{ $runbook }}#redisvolumefilling
      - alert: RedisBackupStale
        # Either the last success is too old, or there has never been one and the CronJob has
        # existed longer than the limit (kube-state-metrics emits no last-success series before
        # the first success).
        expr: |-
          time() - kube_cronjob_status_last_successful_time{ {{- $ns -}} ,cronjob="{{ include "hc.backupName" . }}"} > {{ $r.backupMaxAgeSeconds }}
            or
          (time() - kube_cronjob_created{ {{- $ns -}} ,cronjob="{{ include "hc.backupName" . }}"} > {{ $r.backupMaxAgeSeconds }}
            unless on (namespace, cronjob) kube_cronjob_status_last_successful_time{ {{- $ns -}} ,cronjob="{{ include "hc.backupName" . }}"})
        for: 10m
        labels:
          severity: warning
        annotations:
          summary: The Redis backup is stale
          description: The last successful backup is older than {{ $r.backupMaxAgeSeconds }}s, or no backup has succeeded since the CronJob was created that long ago.
          runbook_url: {{ $runbook }}#redisbackupstale
      - alert: RedisBackupFailed
        # The Job as a whole failed (its retries used up; a pod that failed before a successful
        # retry does not count), and recently: the alert clears once the failed Job is older than
        # the window, by when the next scheduled backup has had its chance.
        expr: |-
          kube_job_failed{ {{- $ns -}} ,job_name=~"{{ include "hc.backupName" . }}-.*",condition="true"} == 1
            and on (namespace, job_name)
          time() - kube_job_status_start_time{ {{- $ns -}} ,job_name=~"{{ include "hc.backupName" . }}-.*"} < {{ $r.backupFailedWindowSeconds }}
        for: 1m
        labels:
          severity: warning
        annotations:
          summary: A Redis backup Job failed
          description: Backup Job {{ "{{ $labels.job_name }}" }} failed.
          runbook_url: {{ $runbook }}#redisbackupfailed
