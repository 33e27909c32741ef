# Writes tests/selector/reference/cases.tsv: label and field selectors (hand
# picked, plus deterministic mutations of them) with the label or field sets
# they are matched against. refgen/main.go prints upstream's answers.
import json, random
random.seed(7)
base = ['app=web', 'a in (x,y),!b,c', 'env notin (),x==y,z!=w', 'example.com/key in (a,,b)', 'n>5,m<3',
        '!a', 'a=b,', 'in in (notin)', '  a  =  b  ,  c  ', 'a in', 'a in (b', 'a b', '=a', '!a=b', 'a==(',
        '!', 'a=-b', '-a=b', 'Ex.com/a=b', 'a/b/c', 'a/', '/a', 'n>x', 'n>-1', 'n<+3', 'a in (b c)', 'a in (=)',
        'a,b', 'a!b', 'a=b=c', 'a<>b', 'a in ()', 'a notin (,)', 'x in(a),y', 'a==' + 'v' * 70, 'k' * 70 + '=v',
        'app in (web, db)', 'a>=5', 'a!!=b', '!!a', 'ax>/=5', 'a=b,,c']
toks = ['=', '==', '!=', '!', '(', ')', ',', ' in ', ' notin ', '>', '<', '/', ' ', '-', '.', 'a', 'example.com/', '1', '_', 'x']
sels = list(base)
for i in range(260):
    s = list(random.choice(base))
    for _ in range(random.randint(1, 3)):
        pos = random.randint(0, len(s))
        if random.random() < 0.33 and s:
            del s[min(pos, len(s) - 1)]
        else:
            s[pos:pos] = list(random.choice(toks))
    sels.append(''.join(s))
labelsets = [{"app": "web", "a": "x", "c": "1", "env": "", "n": "7", "m": "1", "in": "notin", "example.com/key": "b"},
             {"a": "b", "b": "c", "x": "y", "z": "w"}, {}]
fbase = ['metadata.name=x', 'status.phase!=Running,spec.nodeName=', 'metadata.name==a\\,b\\=c\\\\', 'a=b=c',
         'involvedObject.kind=Pod,involvedObject.name=p', 'a', 'a=b,c', 'a=b\\x', 'a=b\\', '=x', 'a!=', 'a==b,,c!=d',
         'x=\\=', '!=', 'z=,!=']
ftoks = ['=', '==', '!=', ',', '\\', '\\,', '\\=', '\\\\', 'metadata.name', '.', 'x']
fsels = list(fbase)
for i in range(160):
    s = list(random.choice(fbase))
    for _ in range(random.randint(1, 3)):
        pos = random.randint(0, len(s))
        if random.random() < 0.3 and s:
            del s[min(pos, len(s) - 1)]
        else:
            s[pos:pos] = list(random.choice(ftoks))
    fsels.append(''.join(s))
fieldsets = [{"metadata.name": "x", "status.phase": "Pending", "spec.nodeName": "", "involvedObject.kind": "Pod",
              "involvedObject.name": "p", "a": "b=c"}, {"metadata.name": "a,b=c\\", "a": "b"}]
with open('reference/cases.tsv', 'w') as f:
    for i, s in enumerate(sels):
        for j, ls in enumerate(labelsets):
            if i < len(base) or j == i % 3:
                f.write(f"L\t{s}\t{json.dumps(ls)}\n")
    for i, s in enumerate(fsels):
        for j, fs in enumerate(fieldsets):
            if i < len(fbase) or j == i % 2:
                f.write(f"F\t{s}\t{json.dumps(fs)}\n")
