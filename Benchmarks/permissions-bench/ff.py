# Fire-and-forget half of Benchmarks/permissions-bench/run.sh: identity argv[1] sends argv[2] events
# through a CURVE PUB; prints how many the broker took (STATS accepted).
import zmq, sys, time, json
ctx = zmq.Context()
who, n = sys.argv[1], int(sys.argv[2])
def key(p): return open(p,'rb').read().strip()
def sock(kind, ep, who=who):
    s = ctx.socket(kind); s.linger = 1000
    sec = key('keys/%s.key' % who); s.curve_secretkey, s.curve_publickey, s.curve_serverkey = sec, zmq.curve_public(sec), key('keys/broker.pub')
    s.sndhwm = 0
    s.connect(ep); return s
stats = sock(zmq.DEALER, 'tcp://127.0.0.1:17814', 'full')
def accepted():
    stats.send_multipart([b'metro/1', b'STATS']); return json.loads(stats.recv_multipart()[2])['accepted']
base = accepted()
sub = sock(zmq.SUB, 'tcp://127.0.0.1:17813', 'full'); sub.subscribe(b'bench.'); sub.subscribe(b'$metro.hello.b'); sub.recv_multipart()
pub = sock(zmq.PUB, 'tcp://127.0.0.1:17812')
while True:   # until the PUB is through
    pub.send_multipart([b'bench.probe', b'p'])
    if sub.poll(50): break
while sub.poll(200): sub.recv_multipart()
sub.close()
base = accepted()
payload = b'a' * 100
t0 = time.monotonic()
for i in range(n):
    pub.send_multipart([b'bench.a', payload])
# A PUB drops at the high-water mark: wait until the count stops moving, and
# report what the broker took.
last, still = -1, 0
while still < 10:
    a = accepted()
    still = still + 1 if a == last else 0
    last = a
    time.sleep(0.05)
print('ff', who, 'sent', n, 'accepted', last - base)
