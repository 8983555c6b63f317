#!/usr/bin/env python3
"""Independent oracle for the replay test of cambrian-llm.

Reads recorded_interactions.jsonl and writes recorded_expected.jsonl: for each
recorded HTTP response, the outcome an OpenAI-compatible client must reach,
computed here with plain Python (json module, line-based SSE split), not with
cambrian's code.  Run: python3 make_expected.py
"""
import json

def chat_or_native(uri):
    path = uri.split('?')[0]
    return 'chat' if path.endswith('/chat/completions') else 'native'

def error_msg(body):
    try:
        v = json.loads(body)
    except Exception:
        return body.strip()[:500]
    if isinstance(v, dict) and 'error' in v:
        e = v['error']
        if isinstance(e, str):
            return e
        if isinstance(e, dict) and isinstance(e.get('message'), str):
            return e['message']
    if isinstance(v, dict) and isinstance(v.get('message'), str):
        return v['message']
    return body.strip()

def sse_events(body):
    events, data = [], None
    for line in body.replace('\r\n', '\n').split('\n'):
        if line == '':
            if data is not None:
                events.append(data)
            data = None
            continue
        if line.startswith(':'):
            continue
        field, _, value = line.partition(':')
        if value.startswith(' '):
            value = value[1:]
        if field == 'data':
            data = value if data is None else data + '\n' + value
    if data is not None:
        events.append(data)
    return events

def outcome(rec):
    resp = rec['response']
    status, ctype, body = resp['status'], resp['content_type'] or '', resp['body']
    if status >= 400:
        return {'outcome': 'http', 'status': status, 'message': error_msg(body)}
    if ctype.lower().startswith('text/event-stream'):
        text, finish, usage, n = '', None, None, 0
        for data in sse_events(body):
            if data.strip() == '[DONE]':
                break
            chunk = json.loads(data)
            if not isinstance(chunk, dict) or 'choices' not in chunk:
                if isinstance(chunk, dict) and isinstance(chunk.get('usage'), dict):
                    usage = chunk['usage']; n += 1
                    continue
                return {'outcome': 'protocol'}
            n += 1
            if isinstance(chunk.get('usage'), dict):
                usage = chunk['usage']
            if chunk['choices']:
                c = chunk['choices'][0]
                d = c.get('delta') or {}
                if isinstance(d.get('content'), str):
                    text += d['content']
                elif isinstance(c.get('text'), str):
                    text += c['text']
                if c.get('finish_reason') is not None:
                    finish = c['finish_reason']
        if n == 0:
            return {'outcome': 'protocol'}
    else:
        v = json.loads(body)
        if not isinstance(v, dict) or 'choices' not in v:
            return {'outcome': 'protocol'}
        c = v['choices'][0]
        text = c['message']['content']
        finish = c.get('finish_reason')
        usage = v.get('usage') if isinstance(v.get('usage'), dict) else None
    return {
        'outcome': 'ok', 'text': text, 'finish_reason': finish,
        'prompt_tokens': usage.get('prompt_tokens') if usage else None,
        'completion_tokens': usage.get('completion_tokens') if usage else None,
    }

with open('recorded_interactions.jsonl') as f, open('recorded_expected.jsonl', 'w') as out:
    for i, line in enumerate(f):
        rec = json.loads(line)
        o = {'line': i + 1, 'endpoint': chat_or_native(rec['request']['uri'])}
        o.update(outcome(rec))
        out.write(json.dumps(o, ensure_ascii=False) + '\n')
