#!/bin/sh
# `make ops`: Prometheus, Alertmanager and the exporters (Debian's packages) in the foreground, against the local
# stack: `make run`'s gateway (GATEWAY_PORT), its PostgreSQL and Redis (DATABASE_URL and REDIS_URL, else the
# embedded ones under GATEWAY_DATA_DIR). Their data go under var/ops. Ctrl-C stops them all.
# Ports (Debian's defaults): PROMETHEUS_PORT 9090, ALERTMANAGER_PORT 9093, NODE_EXPORTER_PORT 9100,
# REDIS_EXPORTER_PORT 9121, POSTGRES_EXPORTER_PORT 9187. Alertmanager's receivers post pages to
# $ALERT_WEBHOOK_URL/page and tickets to $ALERT_WEBHOOK_URL/ticket (default http://127.0.0.1:$ALERT_RECEIVER_PORT,
# port 9099): on a shared machine, a port of your own, or your own webhook.
# `ops.sh --configs-only` writes the configurations under var/ops, prints that folder and starts nothing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data_dir=$(realpath -m "${GATEWAY_DATA_DIR:-var}")
ops="$data_dir/ops"
mkdir -p "$ops/prometheus" "$ops/alertmanager" "$ops/cluster"  # cluster/: the show cluster's targets, if any (prometheus.yml)

gateway=${GATEWAY_PORT:-8080}
prometheus=${PROMETHEUS_PORT:-9090}
alertmanager=${ALERTMANAGER_PORT:-9093}
node=${NODE_EXPORTER_PORT:-9100}
redis=${REDIS_EXPORTER_PORT:-9121}
postgres=${POSTGRES_EXPORTER_PORT:-9187}
alert_webhook=${ALERT_WEBHOOK_URL:-"http://127.0.0.1:${ALERT_RECEIVER_PORT:-9099}"}
# The embedded servers listen on Unix sockets only (assembly/machine/embedded.py).
database_url=${DATABASE_URL:-"postgresql://postgres@:5432/gateway?host=$data_dir/postgres&sslmode=disable"}
redis_url=${REDIS_URL:-"unix://$data_dir/redis/redis.sock"}

# The same configuration as deploy/prometheus, pointed at the ports chosen here.
sed -e "s/127.0.0.1:8080/127.0.0.1:$gateway/; s/127.0.0.1:9090/127.0.0.1:$prometheus/" \
    -e "s/127.0.0.1:9093/127.0.0.1:$alertmanager/; s/127.0.0.1:9100/127.0.0.1:$node/" \
    -e "s/127.0.0.1:9121/127.0.0.1:$redis/; s/127.0.0.1:9187/127.0.0.1:$postgres/" \
    -e "s|rule_files: \[rules.yml\]|rule_files: [$here/rules.yml]|" "$here/prometheus.yml" > "$ops/prometheus.yml"
# The receivers post to the webhook's /page and /ticket: a base address, no query string (sed's own characters in it
# escaped, so a token or path with & or | arrives as written).
case "$alert_webhook" in *'?'*|*'#'*)
    echo "ALERT_WEBHOOK_URL is a base address (the receivers post to its /page and /ticket): no ? or #" >&2; exit 2;;
esac
webhook_escaped=$(printf '%s' "${alert_webhook%/}" | sed -e 's/[\\&|]/\\&/g')
sed -e "s|http://127.0.0.1:9099|$webhook_escaped|" "$here/alertmanager.yml" > "$ops/alertmanager.yml"
if [ "${1:-}" = "--configs-only" ]; then
    echo "$ops"
    exit 0
fi

trap 'kill 0' INT TERM EXIT
DATA_SOURCE_NAME="$database_url" prometheus-postgres-exporter --web.listen-address="127.0.0.1:$postgres" \
    --extend.query-path="$here/queries.yaml" >"$ops/postgres-exporter.log" 2>&1 &
prometheus-redis-exporter -redis.addr="$redis_url" -web.listen-address="127.0.0.1:$redis" >"$ops/redis-exporter.log" 2>&1 &
prometheus-node-exporter --web.listen-address="127.0.0.1:$node" >"$ops/node-exporter.log" 2>&1 &
prometheus-alertmanager --config.file="$ops/alertmanager.yml" --storage.path="$ops/alertmanager" \
    --web.listen-address="127.0.0.1:$alertmanager" --cluster.listen-address="" >"$ops/alertmanager.log" 2>&1 &
echo "Prometheus http://127.0.0.1:$prometheus (alerts: /alerts), Alertmanager http://127.0.0.1:$alertmanager" \
    "(pages to $alert_webhook/page); exporters' logs in $ops. Ctrl-C stops them."
prometheus --config.file="$ops/prometheus.yml" --storage.tsdb.path="$ops/prometheus" \
    --web.listen-address="127.0.0.1:$prometheus" --log.level=warn
