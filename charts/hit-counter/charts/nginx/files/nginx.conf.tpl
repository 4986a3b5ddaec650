{{- $c := .Values.config -}}
{{- $l := $c.limits -}}
# nginx.conf of hit-counter (rendered from the chart values). Runs as a non-root user: every path
# nginx writes to is under config.paths.
worker_processes {{ $c.workerProcesses }};
# Open files per worker: one per connection, twice worker_connections for headroom (logs, sockets
# closing). nginx sets it itself (setrlimit), within the container's hard limit.
worker_rlimit_nofile {{ mul $c.workerConnections 2 }};
pid {{ $c.paths.pid }};
error_log {{ $c.paths.errorLog }} warn;
daemon off;

events {
  # Each proxied request holds two: the client's connection and the upstream one.
  worker_connections {{ $c.workerConnections }};
}

http {
  client_body_temp_path {{ $c.paths.temp }}/client_body;
  proxy_temp_path {{ $c.paths.temp }}/proxy;
  fastcgi_temp_path {{ $c.paths.temp }}/fastcgi;
  uwsgi_temp_path {{ $c.paths.temp }}/uwsgi;
  scgi_temp_path {{ $c.paths.temp }}/scgi;

  server_tokens off;
  default_type text/plain;

  log_format json escape=json '{"time":"$time_iso8601","request_id":"$request_id",'
    '"remote_addr":"$remote_addr","method":"$request_method","uri":"$request_uri",'
    '"status":$status,"bytes_sent":$body_bytes_sent,"request_time":$request_time,'
    '"upstream_addr":"$upstream_addr","upstream_status":"$upstream_status",'
    '"upstream_response_time":"$upstream_response_time","user_agent":"$http_user_agent"}';
  access_log {{ $c.paths.accessLog }} json;
{{- with .Values.ingress.realIpFrom }}

  # The client address, from the proxies in front (only theirs is trusted): limits and logs use it.
  {{- range . }}
  set_real_ip_from {{ . }};
  {{- end }}
  real_ip_header {{ $.Values.ingress.realIpHeader }};
  real_ip_recursive on;
{{- end }}

  # Limits: the counter takes no body and small headers.
  client_max_body_size {{ $c.clientMaxBodySize }};
  client_body_buffer_size {{ $c.clientMaxBodySize }};
  client_header_buffer_size {{ $c.clientHeaderBufferSize }};
  large_client_header_buffers {{ $c.largeClientHeaderBuffers }};
  # A deadline for the whole request header, counted from the connection's start.
  client_header_timeout {{ $c.clientHeaderTimeout }};
  client_body_timeout {{ $c.clientBodyTimeout }};
  # A refused body is read and dropped for at most lingering_time, then the connection closes.
  lingering_time {{ $c.lingeringTime }};
  lingering_timeout {{ $c.lingeringTimeout }};
  keepalive_timeout {{ $c.keepaliveTimeout }};
  # Timed-out connections are reset, so their memory is freed at once.
  reset_timedout_connection on;

  # A request that announces a body (Content-Length above 0, or any Transfer-Encoding).
  map "$http_content_length$http_transfer_encoding" $hc_has_body {
    "" 0;
    "~^0+$" 0;
    default 1;
  }
{{- if $l.inflight }}

  # Requests this nginx proxies at once (one key for all).
  limit_conn_zone $server_name zone=hc_inflight:1m;
{{- end }}
{{- if $l.perClient.connections }}
  limit_conn_zone $binary_remote_addr zone=hc_client_conn:10m;
{{- end }}
{{- if $l.perClient.rate }}
  limit_req_zone $binary_remote_addr zone=hc_client_rate:10m rate={{ $l.perClient.rate }}r/s;
{{- end }}
  limit_conn_status 503;
  limit_req_status 503;
  # Every refusal is in the access log (503, no upstream); the error log stays quiet under a flood.
  limit_conn_log_level notice;
  limit_req_log_level notice;

  # Every proxied request: keepalive HTTP/1.1 upstream, responses never written to disk.
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header Host $host;
  proxy_set_header X-Request-Id $request_id;
  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
  proxy_set_header X-Forwarded-Proto $scheme;
  proxy_max_temp_file_size 0;
  proxy_connect_timeout {{ $c.connectTimeout }};
  proxy_send_timeout {{ $c.sendTimeout }};
  proxy_read_timeout {{ $c.readTimeout }};
  # Never passed on by nginx itself: it would resend a request a server may have counted (see the
  # chart README); the error pages below resend only what no server received.
  proxy_next_upstream {{ $c.nextUpstream }};
  proxy_next_upstream_tries {{ $c.nextUpstreamTries }};
  proxy_next_upstream_timeout {{ $c.nextUpstreamTimeout }};

  # A server whose connect fails (or times out) is skipped for fail_timeout; nginx never skips a
  # single server (the Service).
  upstream hit_counter {
{{- if $c.upstreamServers }}
{{- range $c.upstreamServers }}
    server {{ . }} max_fails={{ $c.upstreamMaxFails }} fail_timeout={{ $c.upstreamFailTimeout }};
{{- end }}
{{- else }}
    server {{ include "hc.serviceName" . }}:{{ .Values.global.service.port }} max_fails={{ $c.upstreamMaxFails }} fail_timeout={{ $c.upstreamFailTimeout }};
{{- end }}
    keepalive {{ $c.upstreamKeepalive }};
    keepalive_timeout {{ $c.upstreamKeepaliveTimeout }};
    keepalive_requests {{ $c.upstreamKeepaliveRequests }};
  }

  server {
    listen {{ .Values.ports.http }} backlog={{ $c.listenBacklog }};
    # The Host sent upstream when a request has none (HTTP/1.0), and the in-flight limit's key.
    server_name {{ include "hc.serviceName" . }};

    # The counter takes no body: refused before any of it is read (a slow body cannot hold a
    # connection).
    if ($hc_has_body) {
      return 413;
    }

    location / {
{{- if $l.inflight }}
      limit_conn hc_inflight {{ $l.inflight }};
{{- end }}
{{- if $l.perClient.connections }}
      limit_conn hc_client_conn {{ $l.perClient.connections }};
{{- end }}
{{- if $l.perClient.rate }}
      limit_req zone=hc_client_rate{{ if $l.perClient.burst }} burst={{ $l.perClient.burst }} nodelay{{ end }};
{{- end }}
      proxy_pass http://hit_counter;
      # The limits' 503s get a Retry-After; nginx's own 502 and 504 (the service's answers pass
      # through untouched) go to the locations below.
      recursive_error_pages on;
      error_page 503 = @busy;
      error_page 502 = @unsent_502;
      error_page 504 = @unsent_504;
    }
{{- range $code := list 502 504 }}

    # A {{ $code }} of nginx's own. A request no server received a byte of (a refused or timed-out
    # connect) cannot have been counted: it is sent once more, to another server or, through the
    # Service, another pod. One a server received may have been counted: {{ $code }}, never resent.
    location @unsent_{{ $code }} {
      if ($upstream_bytes_sent != 0) {
        return {{ $code }};
      }
      proxy_pass http://hit_counter;
      error_page 502 = @unreachable_502;
      error_page 504 = @unreachable_504;
    }
{{- end }}
{{- range $code := list 502 504 }}

    # The second attempt failed too. If no server received a byte of either ("0 : 0"), nothing was
    # counted: 503 with Retry-After.
    location @unreachable_{{ $code }} {
      if ($upstream_bytes_sent !~ "^[0 :,]+$") {
        return {{ $code }};
      }
      add_header Retry-After {{ $l.retryAfter }} always;
      add_header Cache-Control no-store always;
      return 503 "The hit counter is unreachable; retry shortly.\n";
    }
{{- end }}

    location @busy {
      add_header Retry-After {{ $l.retryAfter }} always;
      add_header Cache-Control no-store always;
      return 503 "The hit counter is busy; retry shortly.\n";
    }

    # The service's readiness and metrics are for the kubelet and Prometheus, which reach the pods.
    location ~ ^/(ready|metrics)(/|$) {
      return 404 "Not found\n";
    }

    # nginx's own liveness (and the load balancer's health check), answered without the upstream.
    location = /nginx-health {
      access_log off;
      return 200 "ok\n";
    }
  }

  # Readiness, for the kubelet: nginx reaches the service (its /health, which needs no Redis). On
  # its own port, which neither the Service nor the Ingress exposes, and outside every limit.
  server {
    listen {{ .Values.ports.probe }};
    access_log off;

    location = /nginx-ready {
      proxy_pass http://hit_counter/health;
      proxy_connect_timeout 1s;
      proxy_send_timeout 1s;
      proxy_read_timeout 1s;
    }

    location / {
      return 404 "Not found\n";
    }
  }

  # stub_status for the exporter sidecar only.
  server {
    listen {{ $c.statusListen }}:{{ .Values.ports.status }};
    access_log off;

    location = /stub_status {
      stub_status;
    }
  }
}
