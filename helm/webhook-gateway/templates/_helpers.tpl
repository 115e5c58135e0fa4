{{/*
Names and labels.
*/}}
{{- define "wg.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "wg.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "wg.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels; call with (dict "ctx" $ "component" "ingress") or without component. */}}
{{- define "wg.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wg.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{- define "wg.labels" -}}
helm.sh/chart: {{ include "wg.chart" .ctx }}
{{ include "wg.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: webhook-gateway
{{- end -}}

{{/* Marks the pods that run `serve` (not the migrations Job). */}}
{{- define "wg.serverLabel" -}}
webhook-gateway/server: "true"
{{- end -}}

{{- define "wg.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "wg.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "wg.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
Roles. wg.roles: the Deployments of the current mode, as a JSON list.
wg.adminRole: the role whose pods serve /api/v1 behind the admin Service.
wg.publicRole: the role whose pods serve the public webhook endpoint.
*/}}
{{- define "wg.roles" -}}
{{- if eq .Values.mode "all" -}}
{{- list "all" | toJson -}}
{{- else if .Values.roles.api.enabled -}}
{{- list "ingress" "worker" "api" | toJson -}}
{{- else -}}
{{- list "ingress" "worker" | toJson -}}
{{- end -}}
{{- end -}}

{{- define "wg.adminRole" -}}
{{- if eq .Values.mode "all" -}}all{{- else if .Values.roles.api.enabled -}}api{{- else -}}worker{{- end -}}
{{- end -}}

{{- define "wg.publicRole" -}}
{{- if eq .Values.mode "all" -}}all{{- else -}}ingress{{- end -}}
{{- end -}}

{{/*
PostgreSQL connections, at most, of one pod of a role ({"ctx": ., "role": name}): its pool
(database.pool_max), the ingress writer's own pool (writer.max_in_flight, one per commit
slot), and the dispatcher's LISTEN connection and its own pool of two for claims and
settlements. Defaults are the program's.
*/}}
{{- define "wg.podConnections" -}}
{{- $pool := 10 -}}
{{- $writer := 4 -}}
{{- $deliver := 3 -}}
{{- with .ctx.Values.config.database }}{{ if hasKey . "pool_max" }}{{ $pool = int64 .pool_max }}{{ end }}{{ end -}}
{{- with .ctx.Values.config.writer }}{{ if hasKey . "max_in_flight" }}{{ $writer = int64 .max_in_flight }}{{ end }}{{ end -}}
{{- with .ctx.Values.config.delivery }}{{ if and (hasKey . "enabled") (not .enabled) }}{{ $deliver = 0 }}{{ end }}{{ end -}}
{{- $n := int64 $pool -}}
{{- if has .role (list "ingress" "all") }}{{ $n = add $n $writer }}{{ end -}}
{{- if has .role (list "worker" "all") }}{{ $n = add $n $deliver }}{{ end -}}
{{- $n -}}
{{- end -}}

{{/*
Pods of a role at their most ({"ctx": ., "role": name}): its replicas, or its autoscaler's
maximum, plus the rolling update's surge (25 %, rounded up).
*/}}
{{- define "wg.maxPods" -}}
{{- $r := get .ctx.Values.roles .role -}}
{{- $pods := int64 $r.replicas -}}
{{- if $r.autoscaling.enabled }}{{ $pods = int64 $r.autoscaling.maxReplicas }}{{ end -}}
{{- add $pods (div (add $pods 3) 4) -}}
{{- end -}}

{{/* Fixed paths and ports (the image and the probes rely on them). */}}
{{- define "wg.configDir" -}}/etc/webhook-gateway{{- end -}}
{{- define "wg.configPath" -}}/etc/webhook-gateway/config.toml{{- end -}}
{{- define "wg.dataDir" -}}/var/lib/webhook-gateway{{- end -}}

{{/*
Seconds Kubernetes waits for a pod to stop: the program's drain plus a margin.
*/}}
{{- define "wg.terminationGracePeriodSeconds" -}}
{{- $drain := 25.0 -}}
{{- with .Values.config.delivery -}}
{{- if hasKey . "grace_seconds" -}}{{- $drain = float64 .grace_seconds -}}{{- end -}}
{{- end -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds -}}
{{- add (ceil $drain | int64) (int64 .Values.drainMarginSeconds) -}}
{{- else -}}
{{- if le (float64 .Values.terminationGracePeriodSeconds) $drain -}}
{{- fail (printf "terminationGracePeriodSeconds (%v) must be longer than config.delivery.grace_seconds (%v), or pods are killed mid-drain" .Values.terminationGracePeriodSeconds $drain) -}}
{{- end -}}
{{- int64 .Values.terminationGracePeriodSeconds -}}
{{- end -}}
{{- end -}}

{{/*
Secrets of sources and subscribers.

wg.secretEnvName: for (dict "kind" "source"|"subscriber" "name" NAME), the environment
  variable that carries that item's secret.
wg.itemSecrets: for one item (dict "ctx" $ "kind" KIND "item" $item), JSON with
  secret   - the TOML value of `secret` ("${VAR}"), if any
  secrets  - the TOML values of `secrets` (sources only)
  stored   - {VAR: value} to keep in the chart's Secret
  existing - [VAR] to read from .Values.existingSecret
A subscriber always needs a secret (it signs what it is sent); a source unless its
scheme is "none" or it lists `secrets`.
*/}}
{{- define "wg.secretEnvName" -}}
{{- printf "GATEWAY_%s_%s_%s" (.kind | upper) (regexReplaceAll "[^A-Z0-9]" (.name | upper) "_") (default "SECRET" .suffix) -}}
{{- end -}}

{{/*
wg.brokerSecrets: for one broker (dict "ctx" $ "item" $broker), JSON with
  url      - the TOML value of `url` ("${GATEWAY_BROKER_<NAME>_URL}" or the "${VAR}" given)
  stored   - {VAR: url} to keep in the chart's Secret (a plain url)
  existing - [VAR] to read from .Values.existingSecret
  refs     - [{var, name, key}]: VAR read from the named Secret (urlSecret)
An AMQP broker's URL carries its password, so it reaches the program only through the
environment; an SQS broker has no URL (credentials come from the AWS chain: IRSA).
*/}}
{{- define "wg.brokerSecrets" -}}
{{- $item := .item -}}
{{- $var := include "wg.secretEnvName" (dict "kind" "broker" "name" $item.name "suffix" "URL") -}}
{{- if eq $item.kind "amqp" -}}
{{- include "wg.urlSecrets" (dict "ctx" .ctx "item" $item "var" $var "list" "brokers" "note" " (amqp)") -}}
{{- else if or $item.url $item.urlSecret -}}
  {{- fail (printf "brokers: %q (sqs) takes no url: its credentials come from the AWS chain (IRSA: serviceAccount.annotations)" $item.name) -}}
{{- else -}}
{{- toJson (dict "stored" (dict) "existing" (list) "refs" (list)) -}}
{{- end -}}
{{- end -}}

{{/*
wg.urlSecrets: a URL that carries a password (an AMQP broker's, a proxy's), for
(dict "ctx" $ "item" $item "var" VAR "list" "brokers"|"egress.proxies" "note" TEXT):
JSON with url, stored, existing and refs as wg.brokerSecrets says. A plain `url` goes into
the chart's Secret, `urlSecret` reads a Secret you have, "${VAR}" passes through; with
existingSecret, that Secret holds VAR.
*/}}
{{- define "wg.urlSecrets" -}}
{{- $ctx := .ctx -}}
{{- $item := .item -}}
{{- $var := .var -}}
{{- $list := .list -}}
{{- $out := dict "stored" (dict) "existing" (list) "refs" (list) -}}
  {{- if and $item.url $item.urlSecret -}}
    {{- fail (printf "%s: %q sets both url and urlSecret: keep one" $list $item.name) -}}
  {{- else if $item.urlSecret -}}
    {{- $_ := set $out "refs" (list (dict "var" $var "name" $item.urlSecret.name "key" $item.urlSecret.key)) -}}
    {{- $_ := set $out "url" (printf "${%s}" $var) -}}
  {{- else if and $item.url (regexMatch "^\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}$" $item.url) -}}
    {{- $_ := set $out "url" $item.url -}}
  {{- else if $item.url -}}
    {{- if $ctx.Values.existingSecret -}}
      {{- fail (printf "%s: %q has a plain url, but existingSecret is set: put it in that Secret under %s and leave %s[].url empty" $list $item.name $var $list) -}}
    {{- end -}}
    {{- $_ := set $out.stored $var $item.url -}}
    {{- $_ := set $out "url" (printf "${%s}" $var) -}}
  {{- else if $ctx.Values.existingSecret -}}
    {{- $_ := set $out "existing" (list $var) -}}
    {{- $_ := set $out "url" (printf "${%s}" $var) -}}
  {{- else -}}
    {{- fail (printf "%s: %q%s needs a url: set %s[].url, %s[].urlSecret (an existing Secret's name and key), or existingSecret with the key %s" $list $item.name .note $list $list $var) -}}
  {{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
wg.proxySecrets: for one proxy of egress.proxies (dict "ctx" $ "item" $proxy), as
wg.brokerSecrets; its URL (credentials and all) reaches the program as
${GATEWAY_PROXY_<NAME>_URL}.
*/}}
{{- define "wg.proxySecrets" -}}
{{- $var := include "wg.secretEnvName" (dict "kind" "proxy" "name" .item.name "suffix" "URL") -}}
{{- include "wg.urlSecrets" (dict "ctx" .ctx "item" .item "var" $var "list" "egress.proxies" "note" "") -}}
{{- end -}}

{{/* Where the Secret of egress.tls profile NAME is mounted. */}}
{{- define "wg.egressTlsDir" -}}
{{- printf "/etc/webhook-gateway/egress/%s" . -}}
{{- end -}}

{{- define "wg.itemSecrets" -}}
{{- $ctx := .ctx -}}
{{- $kind := .kind -}}
{{- $item := .item -}}
{{- $list := printf "%ss" $kind -}}
{{- $var := include "wg.secretEnvName" (dict "kind" $kind "name" $item.name) -}}
{{- $ref := "^\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}$" -}}
{{- $out := dict "secrets" (list) "stored" (dict) "existing" (list) -}}
{{- $required := or (eq $kind "subscriber") (and (not (has (default "hmac" $item.scheme) (list "none" "amazon-sp-api"))) (not $item.secrets)) -}}
{{- if $item.secret -}}
  {{- if regexMatch $ref $item.secret -}}
    {{- $_ := set $out "secret" $item.secret -}}
  {{- else if $ctx.Values.existingSecret -}}
    {{- fail (printf "%s: %q has a plain secret, but existingSecret is set: put it in that Secret under %s and leave %s[].secret empty" $list $item.name $var $list) -}}
  {{- else -}}
    {{- $_ := set $out.stored $var $item.secret -}}
    {{- $_ := set $out "secret" (printf "${%s}" $var) -}}
  {{- end -}}
{{- else if $required -}}
  {{- if $ctx.Values.existingSecret -}}
    {{- $_ := set $out "existing" (list $var) -}}
    {{- $_ := set $out "secret" (printf "${%s}" $var) -}}
  {{- else if eq $kind "subscriber" -}}
    {{- fail (printf "subscribers: %q needs a secret (whsec_…): set subscribers[].secret, or existingSecret with the key %s" $item.name $var) -}}
  {{- else -}}
    {{- fail (printf "sources: %q (scheme %s) needs a secret: set sources[].secret, or existingSecret with the key %s" $item.name (default "hmac" $item.scheme) $var) -}}
  {{- end -}}
{{- end -}}
{{- range $i, $s := default (list) $item.secrets -}}
  {{- if regexMatch $ref $s -}}
    {{- $_ := set $out "secrets" (append $out.secrets $s) -}}
  {{- else if $ctx.Values.existingSecret -}}
    {{- fail (printf "%s: %q has plain secrets, but existingSecret is set: reference them as \"${VAR}\" and supply VAR with extraEnv" $list $item.name) -}}
  {{- else -}}
    {{- $v := printf "%s_%d" $var (add1 $i) -}}
    {{- $_ := set $out.stored $v $s -}}
    {{- $_ := set $out "secrets" (append $out.secrets (printf "${%s}" $v)) -}}
  {{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* Every source's and subscriber's secret, merged: JSON {"stored": {...}, "existing": [...]} */}}
{{- define "wg.allItemSecrets" -}}
{{- $stored := dict -}}
{{- $existing := list -}}
{{- $refs := list -}}
{{- range $item := .Values.brokers | default (list) -}}
  {{- $s := include "wg.brokerSecrets" (dict "ctx" $ "item" $item) | fromJson -}}
  {{- $stored = merge $stored $s.stored -}}
  {{- $existing = concat $existing $s.existing -}}
  {{- $refs = concat $refs $s.refs -}}
{{- end -}}
{{- range $item := (.Values.egress | default (dict)).proxies | default (list) -}}
  {{- $s := include "wg.proxySecrets" (dict "ctx" $ "item" $item) | fromJson -}}
  {{- $stored = merge $stored $s.stored -}}
  {{- $existing = concat $existing $s.existing -}}
  {{- $refs = concat $refs $s.refs -}}
{{- end -}}
{{- range $kind := list "source" "subscriber" -}}
{{- range $item := get $.Values (printf "%ss" $kind) | default (list) -}}
  {{- $s := include "wg.itemSecrets" (dict "ctx" $ "kind" $kind "item" $item) | fromJson -}}
  {{- $stored = merge $stored $s.stored -}}
  {{- $existing = concat $existing $s.existing -}}
{{- end -}}
{{- end -}}
{{- toJson (dict "stored" $stored "existing" $existing "refs" $refs) -}}
{{- end -}}

{{/* The chart Secret's data that comes from values (everything but the JWT key). */}}
{{- define "wg.storedSecretData" -}}
{{- $data := dict -}}
{{- if and .Values.database.url (not .Values.database.existingSecret) -}}
{{- $_ := set $data "GATEWAY_DATABASE__URL" .Values.database.url -}}
{{- end -}}
{{- $sources := include "wg.allItemSecrets" . | fromJson -}}
{{- toJson (merge $data $sources.stored) -}}
{{- end -}}

{{/* The JWT key: the value given, else the one already in the cluster, else a new one. */}}
{{- define "wg.jwtSecret" -}}
{{- if .Values.api.jwtSecret -}}
{{- .Values.api.jwtSecret -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "wg.fullname" .) -}}
{{- $data := dig "data" (dict) ($existing | default (dict)) -}}
{{- if hasKey $data "GATEWAY_API__JWT_SECRET" -}}
{{- index $data "GATEWAY_API__JWT_SECRET" | b64dec -}}
{{- else -}}
{{- randAlphaNum 64 -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The key that signs thin-payload links: shared by every pod, kept across upgrades. */}}
{{- define "wg.payloadLinkSecret" -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "wg.fullname" .) -}}
{{- $data := dig "data" (dict) ($existing | default (dict)) -}}
{{- if hasKey $data "GATEWAY_DELIVERY__PAYLOAD_LINK_SECRET" -}}
{{- index $data "GATEWAY_DELIVERY__PAYLOAD_LINK_SECRET" | b64dec -}}
{{- else -}}
{{- randAlphaNum 64 -}}
{{- end -}}
{{- end -}}

{{/*
Pod environment; call with (dict "ctx" $ "secretName" NAME "jwt" BOOL). Values the chart
stores come from the Secret NAME; the rest from the Secrets the user manages.
*/}}
{{- define "wg.env" -}}
{{- $ctx := .ctx -}}
{{- $v := $ctx.Values -}}
- name: GATEWAY_CONFIG
  value: {{ include "wg.configPath" $ctx }}
- name: GATEWAY_DATABASE__URL
  valueFrom:
    secretKeyRef:
{{- if $v.database.existingSecret }}
      name: {{ $v.database.existingSecret }}
      key: {{ $v.database.existingSecretKey }}
{{- else if $v.existingSecret }}
      name: {{ $v.existingSecret }}
      key: GATEWAY_DATABASE__URL
{{- else }}
      name: {{ .secretName }}
      key: GATEWAY_DATABASE__URL
{{- end }}
{{- if .jwt }}
- name: GATEWAY_API__JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ default (include "wg.fullname" $ctx) $v.existingSecret }}
      key: GATEWAY_API__JWT_SECRET
{{- end }}
- name: GATEWAY_DELIVERY__PAYLOAD_LINK_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ default (include "wg.fullname" $ctx) $v.existingSecret }}
      key: GATEWAY_DELIVERY__PAYLOAD_LINK_SECRET
      optional: {{ if $v.existingSecret }}true{{ else }}false{{ end }}
{{- if $v.tracing.enabled }}
- name: GATEWAY_TRACING__ENABLED
  value: "true"
{{- with $v.tracing.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $v.tracing.protocol | quote }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ $v.tracing.samplingRatio | toString | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ default (include "wg.fullname" $ctx) $v.tracing.serviceName | quote }}
{{- end }}
{{- $sources := include "wg.allItemSecrets" $ctx | fromJson }}
{{- range $name := keys $sources.stored | sortAlpha }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $.secretName }}
      key: {{ $name }}
{{- end }}
{{- range $name := $sources.existing }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $v.existingSecret }}
      key: {{ $name }}
{{- end }}
{{- range $ref := $sources.refs }}
- name: {{ $ref.var }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.name }}
      key: {{ $ref.key }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Config TOML.

wg.tomlKey / wg.tomlValue write one key or value. Helm reads every number as a float,
so whole numbers are written as integers (the program accepts them for float keys too).
*/}}
{{- define "wg.tomlKey" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . -}}{{ . }}{{- else -}}{{ toJson . }}{{- end -}}
{{- end -}}

{{- define "wg.tomlValue" -}}
{{- $v := . -}}
{{- if kindIs "string" $v -}}
{{- toJson $v -}}
{{- else if kindIs "bool" $v -}}
{{- ternary "true" "false" $v -}}
{{- else if kindIs "float64" $v -}}
{{- if eq $v (floor $v) -}}{{- int64 $v -}}{{- else -}}{{- $v -}}{{- end -}}
{{- else if or (kindIs "int" $v) (kindIs "int64" $v) (kindIs "int32" $v) (kindIs "uint64" $v) -}}
{{- $v -}}
{{- else if kindIs "slice" $v -}}
[{{- range $i, $e := $v -}}{{- if $i }}, {{ end -}}{{- include "wg.tomlValue" $e -}}{{- end -}}]
{{- else if kindIs "map" $v -}}
{ {{- range $i, $k := keys $v | sortAlpha -}}{{- if $i }},{{ end }} {{ include "wg.tomlKey" $k }} = {{ include "wg.tomlValue" (get $v $k) -}}{{- end }} }
{{- else -}}
{{- fail (printf "config: cannot write %v (%s) as TOML" $v (kindOf $v)) -}}
{{- end -}}
{{- end -}}

{{- define "wg.tomlTable" -}}
{{- range $k := keys . | sortAlpha }}
{{- $val := get $ $k }}
{{- if not (kindIs "invalid" $val) }}
{{ include "wg.tomlKey" $k }} = {{ include "wg.tomlValue" $val }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "wg.configToml" -}}
# webhook-gateway configuration, rendered by the Helm chart from .Values.config,
# .Values.brokers, .Values.egress, .Values.sources and .Values.subscribers. Secrets arrive as ${VAR} from the environment; the database URL and
# the JWT key as GATEWAY_DATABASE__URL and GATEWAY_API__JWT_SECRET.
{{- $chartOwned := dict
  "ingress" (dict "host" "0.0.0.0" "port" 8080)
  "admin" (dict "host" "0.0.0.0" "port" 8081)
  "database" (dict "data_dir" (include "wg.dataDir" .) "migrate_on_start" false)
}}
{{- range $section := list "ingress" "admin" "database" "writer" "delivery" "api" "log" "metrics" "retention" }}
{{- $user := get $.Values.config $section | default (dict) }}
{{- $table := merge (deepCopy (get $chartOwned $section | default (dict))) (deepCopy $user) }}

[{{ $section }}]
{{- include "wg.tomlTable" $table }}
{{- end }}
{{- range $item := .Values.brokers | default (list) }}
{{- $secrets := include "wg.brokerSecrets" (dict "ctx" $ "item" $item) | fromJson }}

[[brokers]]
name = {{ toJson $item.name }}
{{- include "wg.tomlTable" (omit $item "name" "url" "urlSecret") }}
{{- with $secrets.url }}
url = {{ toJson . }}
{{- end }}
{{- end }}
{{- $egress := .Values.egress | default (dict) }}
{{- if or $egress.proxy $egress.proxies $egress.tls }}

[egress]
{{- with $egress.proxy }}
proxy = {{ toJson . }}
{{- end }}
{{- end }}
{{- range $item := $egress.proxies | default (list) }}
{{- $secrets := include "wg.proxySecrets" (dict "ctx" $ "item" $item) | fromJson }}

[[egress.proxies]]
name = {{ toJson $item.name }}
url = {{ toJson $secrets.url }}
{{- end }}
{{- range $item := $egress.tls | default (list) }}
{{- $dir := include "wg.egressTlsDir" $item.name }}

[[egress.tls]]
name = {{ toJson $item.name }}
{{- if $item.secretName }}
{{- with $item.clientCertificateKey | default "tls.crt" }}
client_certificate = {{ printf "%s/%s" $dir . | toJson }}
{{- end }}
{{- with $item.clientKeyKey | default "tls.key" }}
client_key = {{ printf "%s/%s" $dir . | toJson }}
{{- end }}
{{- end }}
{{- if $item.caBundleSecretName }}
ca_bundle = {{ printf "%s-ca/%s" $dir ($item.caBundleKey | default "ca.crt") | toJson }}
{{- else if and $item.secretName $item.caBundleKey }}
ca_bundle = {{ printf "%s/%s" $dir $item.caBundleKey | toJson }}
{{- end }}
{{- include "wg.tomlTable" (omit $item "name" "secretName" "clientCertificateKey" "clientKeyKey" "caBundleSecretName" "caBundleKey") }}
{{- end }}
{{- range $kind := list "source" "subscriber" }}
{{- range $item := get $.Values (printf "%ss" $kind) | default (list) }}
{{- $secrets := include "wg.itemSecrets" (dict "ctx" $ "kind" $kind "item" $item) | fromJson }}

[[{{ $kind }}s]]
name = {{ toJson $item.name }}
{{- include "wg.tomlTable" (omit $item "name" "secret" "secrets") }}
{{- with $secrets.secret }}
secret = {{ toJson . }}
{{- end }}
{{- with $secrets.secrets }}
secrets = {{ include "wg.tomlValue" . }}
{{- end }}
{{- end }}
{{- end }}
{{ end -}}

{{/*
Checks that values.schema.json cannot express.
*/}}
{{- define "wg.validate" -}}
{{- if and (not .Values.database.url) (not .Values.database.existingSecret) (not .Values.existingSecret) -}}
{{- fail "a database URL is required: set database.url, database.existingSecret (e.g. CloudNativePG's <cluster>-app Secret) or existingSecret" -}}
{{- end -}}
{{- if and .Values.existingSecret .Values.database.url -}}
{{- fail "database.url is ignored when existingSecret is set: put the URL in that Secret under GATEWAY_DATABASE__URL (or use database.existingSecret)" -}}
{{- end -}}
{{- if and .Values.existingSecret .Values.api.jwtSecret -}}
{{- fail "api.jwtSecret is ignored when existingSecret is set: put the key in that Secret under GATEWAY_API__JWT_SECRET" -}}
{{- end -}}
{{- range $kind := list "broker" "source" "subscriber" -}}
{{- $seen := dict -}}
{{- range $item := get $.Values (printf "%ss" $kind) | default (list) -}}
{{- $var := include "wg.secretEnvName" (dict "kind" $kind "name" $item.name "suffix" (ternary "URL" "SECRET" (eq $kind "broker"))) -}}
{{- if hasKey $seen $var -}}
{{- fail (printf "%ss: %q and %q both map to the environment variable %s" $kind (get $seen $var) $item.name $var) -}}
{{- end -}}
{{- $_ := set $seen $var $item.name -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The container of a server pod; call with (dict "ctx" $ "role" ROLE).
*/}}
{{- define "wg.podSpec" -}}
{{- $ctx := .ctx -}}
{{- $v := $ctx.Values -}}
{{- $role := .role -}}
{{- $r := get $v.roles $role -}}
{{- $public := or (eq $role "ingress") (eq $role "all") -}}
serviceAccountName: {{ include "wg.serviceAccountName" $ctx }}
automountServiceAccountToken: {{ $v.serviceAccount.automountServiceAccountToken }}
enableServiceLinks: false
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: {{ include "wg.terminationGracePeriodSeconds" $ctx }}
containers:
  - name: gateway
    image: {{ include "wg.image" $ctx }}
    imagePullPolicy: {{ $v.image.pullPolicy }}
    args: ["serve", "--config", {{ include "wg.configPath" $ctx | quote }}, "--role", {{ $role | quote }}]
    ports:
      {{- if $public }}
      - name: http
        containerPort: 8080
        protocol: TCP
      {{- end }}
      - name: admin
        containerPort: 8081
        protocol: TCP
    env:
      {{- include "wg.env" (dict "ctx" $ctx "secretName" (include "wg.fullname" $ctx) "jwt" true) | nindent 6 }}
    {{- with $v.extraEnvFrom }}
    envFrom:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    startupProbe:
      httpGet: {path: /healthz, port: admin}
      {{- toYaml $v.probes.startup | nindent 6 }}
    livenessProbe:
      httpGet: {path: /healthz, port: admin}
      {{- toYaml $v.probes.liveness | nindent 6 }}
    readinessProbe:
      httpGet: {path: /readyz, port: admin}
      {{- toYaml $v.probes.readiness | nindent 6 }}
    {{- if and $r.preStopSleepSeconds (gt (int64 $r.preStopSleepSeconds) 0) }}
    lifecycle:
      preStop:
        exec:
          command: ["sleep", {{ int64 $r.preStopSleepSeconds | toString | quote }}]
    {{- end }}
    resources:
      {{- toYaml $r.resources | nindent 6 }}
    securityContext:
      {{- toYaml $v.securityContext | nindent 6 }}
    volumeMounts:
      {{- include "wg.volumeMounts" $ctx | nindent 6 }}
volumes:
  {{- include "wg.volumes" (dict "ctx" $ctx "configMap" (include "wg.fullname" $ctx)) | nindent 2 }}
{{- with $r.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $r.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $r.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if $r.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml $r.topologySpreadConstraints | nindent 2 }}
{{- else if $v.topologySpread.enabled }}
topologySpreadConstraints:
  {{- range $key := $v.topologySpread.topologyKeys }}
  - maxSkew: {{ $v.topologySpread.maxSkew }}
    topologyKey: {{ $key }}
    whenUnsatisfiable: {{ $v.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "wg.selectorLabels" (dict "ctx" $ctx "component" $role) | nindent 8 }}
    matchLabelKeys: ["pod-template-hash"]
  {{- end }}
{{- end }}
{{- end -}}

{{- define "wg.volumeMounts" -}}
- name: config
  mountPath: {{ include "wg.configDir" . }}
  readOnly: true
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: {{ include "wg.dataDir" . }}
{{- range $item := (.Values.egress | default (dict)).tls | default (list) }}
{{- if $item.secretName }}
- name: egress-tls-{{ $item.name | replace "_" "-" }}
  mountPath: {{ include "wg.egressTlsDir" $item.name }}
  readOnly: true
{{- end }}
{{- if $item.caBundleSecretName }}
- name: egress-ca-{{ $item.name | replace "_" "-" }}
  mountPath: {{ include "wg.egressTlsDir" $item.name }}-ca
  readOnly: true
{{- end }}
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Call with (dict "ctx" $ "configMap" NAME). */}}
{{- define "wg.volumes" -}}
- name: config
  configMap:
    name: {{ .configMap }}
    items:
      - key: config.toml
        path: config.toml
- name: tmp
  emptyDir:
    sizeLimit: {{ .ctx.Values.scratchSizeLimit }}
- name: data
  emptyDir:
    sizeLimit: {{ .ctx.Values.scratchSizeLimit }}
{{- range $item := (.ctx.Values.egress | default (dict)).tls | default (list) }}
{{- if $item.secretName }}
- name: egress-tls-{{ $item.name | replace "_" "-" }}
  secret:
    secretName: {{ $item.secretName }}
{{- end }}
{{- if $item.caBundleSecretName }}
- name: egress-ca-{{ $item.name | replace "_" "-" }}
  secret:
    secretName: {{ $item.caBundleSecretName }}
{{- end }}
{{- end }}
{{- with .ctx.Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Pod annotations that roll the pods when the config or the secrets change. */}}
{{- define "wg.checksums" -}}
checksum/config: {{ include "wg.configToml" . | sha256sum }}
{{- $secretInputs := dict "stored" (include "wg.storedSecretData" . | fromJson) "jwt" .Values.api.jwtSecret -}}
{{- if .Values.existingSecret }}
{{- $_ := set $secretInputs "existingSecret" (dict "name" .Values.existingSecret "data" (dig "data" (dict) (lookup "v1" "Secret" .Release.Namespace .Values.existingSecret | default (dict)))) }}
{{- end }}
{{- if .Values.database.existingSecret }}
{{- $_ := set $secretInputs "databaseSecret" (dict "name" .Values.database.existingSecret "key" .Values.database.existingSecretKey "data" (dig "data" (dict) (lookup "v1" "Secret" .Release.Namespace .Values.database.existingSecret | default (dict)))) }}
{{- end }}
checksum/secret: {{ toJson $secretInputs | sha256sum }}
{{- end -}}
