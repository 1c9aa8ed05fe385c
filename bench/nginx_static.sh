# Sourced by the load scripts. install_wrk_and_nginx: installs wrk and
# nginx-light with apt-get when missing and sets NGINX. start_nginx_static:
# nginx serving $WORK/static.json (BODY_BYTES
# bytes) on 127.0.0.1:$NGINX_PORT with 2 workers and no access log, the
# ceiling for HTTP on this machine. Sets NGINX_PID. Needs WORK, NGINX,
# NGINX_PORT, BODY_BYTES.
start_nginx_static() {
  head -c "$BODY_BYTES" /dev/zero | tr '\0' 'x' > "$WORK/static.json"
  mkdir -p "$WORK/nginx"
  cat > "$WORK/nginx.conf" <<CONF
daemon off;
worker_processes 2;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx;
  uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
  server { listen 127.0.0.1:$NGINX_PORT; location / { root $WORK; default_type application/json; } }
}
CONF
  "$NGINX" -c "$WORK/nginx.conf" -p "$WORK/nginx" 2>/dev/null &
  NGINX_PID=$!
  sleep 0.5
}

install_wrk_and_nginx() {
  local need=()
  command -v wrk >/dev/null || need+=(wrk)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
  if [ ${#need[@]} -gt 0 ]; then
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
}
