{{- $c := .Values.config -}}
# nginx.conf of hit-counter (rendered from the chart values). Runs as a non-root user: every path
# nginx writes to is under config.paths.
worker_processes {{ $c.workerProcesses }};
pid {{ $c.paths.pid }};
error_log {{ $c.paths.errorLog }} warn;
daemon off;

events {
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

  # Limits: the counter takes no body and small headers.
  client_max_body_size {{ $c.clientMaxBodySize }};
  client_body_buffer_size {{ $c.clientMaxBodySize }};
  client_header_buffer_size {{ $c.clientHeaderBufferSize }};
  large_client_header_buffers {{ $c.largeClientHeaderBuffers }};
  client_header_timeout {{ $c.clientHeaderTimeout }};
  client_body_timeout {{ $c.clientBodyTimeout }};
  keepalive_timeout {{ $c.keepaliveTimeout }};

  upstream hit_counter {
{{- if $c.upstreamServers }}
{{- range $c.upstreamServers }}
    server {{ . }};
{{- end }}
{{- else }}
    server {{ include "hc.serviceName" . }}:{{ .Values.global.service.port }};
{{- end }}
    keepalive {{ $c.upstreamKeepalive }};
    keepalive_timeout {{ $c.upstreamKeepaliveTimeout }};
    keepalive_requests {{ $c.upstreamKeepaliveRequests }};
  }

  server {
    listen {{ .Values.ports.http }};

    location / {
      proxy_pass http://hit_counter;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Request-Id $request_id;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_connect_timeout {{ $c.connectTimeout }};
      proxy_send_timeout {{ $c.sendTimeout }};
      proxy_read_timeout {{ $c.readTimeout }};
      # Retry only where the request cannot have been counted twice (see the chart README).
      proxy_next_upstream {{ $c.nextUpstream }};
      proxy_next_upstream_tries {{ $c.nextUpstreamTries }};
      proxy_next_upstream_timeout {{ $c.nextUpstreamTimeout }};
    }

    # nginx's own liveness, answered without the upstream.
    location = /nginx-health {
      access_log off;
      return 200 "ok\n";
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
