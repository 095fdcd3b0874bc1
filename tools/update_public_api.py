#!/usr/bin/env python3
# Brings src/*/PublicAPI.Unshipped.txt up to date with the code: builds the solution, adds every symbol the public API
# analyzer reports as undeclared (RS0016) and removes every declared symbol it no longer finds (RS0017), keeping each
# file sorted one entry per line so branches merge as a union. Run it until it reports no change, then review the diff.
#   python3 tools/update_public_api.py
import os,re,subprocess,sys,collections
root=os.path.join(os.path.dirname(os.path.abspath(__file__)),'..')
out=subprocess.run(['dotnet','build','NeuralNet.sln','-c','Release'],capture_output=True,text=True,cwd=root).stdout
add=collections.defaultdict(set); rem=collections.defaultdict(set)
for l in out.splitlines():
    m=re.search(r"error (RS001[67]): Symbol '(.*)' is (?:not part of the declared public API|part of the declared API).*\[(.*?\.csproj)\]",l)
    if not m: continue
    code,sym,proj=m.groups()
    f=os.path.join(os.path.dirname(proj),'PublicAPI.Unshipped.txt')
    (add if code=='RS0016' else rem)[f].add(sym)
for f in set(add)|set(rem):
    lines=open(f).read().split('\n')
    head=lines[0]; body=set(x for x in lines[1:] if x.strip())
    body|=add[f]; body-=rem[f]
    open(f,'w').write(head+'\n'+'\n'.join(sorted(body,key=lambda s: s.encode()))+'\n')
    print(f, '+',len(add[f]),'-',len(rem[f]))
errs=[l for l in out.splitlines() if ' error ' in l and 'RS001' not in l]
print(len(errs),'other errors'); print('\n'.join(sorted(set(errs))[:20]))
