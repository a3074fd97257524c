function [passed, failed, not_applicable] = run_bad_input_table(table)
% RUN_BAD_INPUT_TABLE  The shared bad-input table (tests/bad_input/cases.tsv,
% issue 8) through the MATLAB/Octave binding.
%
%   [passed, failed, not_applicable] = run_bad_input_table()
%   run_bad_input_table(path_of_cases_tsv)
%
% Every row is built from the +hessfree classes (and hessfree_mex for the one
% loader the classes lack, data_faces), never by calling the C library some
% other way. A row passes if the call raises 'hessfree:<status>' with a
% message containing the row's fragment (or succeeds for HF_OK rows) and the
% fixture's data, net, config and session are unchanged and usable
% afterwards. Rows the table declares not applicable to Octave are counted as
% such; an operation this runner does not know fails. Prints
% "bad_input_table[octave]: N passed, M failed, K not applicable".

  if nargin < 1
    here = fileparts(mfilename('fullpath'));
    table = fullfile(here, '..', '..', '..', 'tests', 'bad_input', 'cases.tsv');
  end
  rows = load_rows(table);
  fx = make_fixture();
  cleanup = onCleanup(@() remove_dir(fx.tmp));
  passed = 0;
  failed = 0;
  not_applicable = 0;
  for k = 1:numel(rows)
    row = rows{k};
    if isfield(row.not_applicable, 'octave')
      not_applicable = not_applicable + 1;
      continue;
    end
    problem = run_row(fx, row);
    if isempty(problem)
      passed = passed + 1;
    else
      failed = failed + 1;
      fprintf('FAIL bad_input_table row %s: %s\n', row.id, problem);
    end
  end
  % The network session (Octave has no host objectives) still takes a real
  % step after the whole table.
  r = fx.session.step();
  if ~(r.iteration == 1 && isfinite(r.objective))
    failed = failed + 1;
    fprintf('FAIL bad_input_table: the fixture session no longer steps\n');
  end
  fprintf('bad_input_table[octave]: %d passed, %d failed, %d not applicable\n', passed, failed, ...
          not_applicable);
end

% ---------------------------------------------------------------------------
% The table
% ---------------------------------------------------------------------------

function rows = load_rows(path)
  text = fileread(path);
  lines = strsplit(text, char(10));
  rows = {};
  header = false;
  for i = 1:numel(lines)
    line = lines{i};
    if isempty(line) || line(1) == '#'
      continue;
    end
    f = strsplit(line, char(9), 'CollapseDelimiters', false);
    if ~header
      header = true;
      continue;
    end
    if numel(f) ~= 9
      error('test:table', 'row "%s" has %d fields', f{1}, numel(f));
    end
    rows{end + 1} = struct('id', f{1}, 'op', f{2}, 'arg', f{3}, 'kind', f{4}, 'value', f{5}, ...
                           'status', f{6}, 'fragment', f{7}, 'override', entries(f{8}), ...
                           'not_applicable', entries(f{9})); %#ok<AGROW>
  end
end

function s = entries(text)
  % "binding: text | binding: text" as a struct with one field per binding.
  s = struct();
  if isempty(text)
    return;
  end
  parts = strsplit(text, ' | ');
  for i = 1:numel(parts)
    p = strtrim(parts{i});
    c = find(p == ':', 1);
    if ~isempty(c)
      s.(strtrim(p(1:c - 1))) = strtrim(p(c + 1:end));
    end
  end
end

% ---------------------------------------------------------------------------
% The fixture
% ---------------------------------------------------------------------------

function fx = make_fixture()
  fx.tmp = tempname();
  mkdir(fx.tmp);
  X = zeros(6, 12);
  for i = 0:11
    for j = 0:5
      X(j + 1, i + 1) = (mod(6 * i + j, 10) + 1) / 11;
    end
  end
  fx.data = hessfree.Data(single(X));
  fx.net = hessfree.Net.autoencoder([6 3], 'logistic', 1);
  fx.cfg = hessfree.Config('chunk_size', 6, 'threads', 1, 'backend', 'cpu', 'max_iters', 5, ...
                           'cg_max_iters', 10);
  fx.session = hessfree.Session(fx.net, fx.data, [], fx.cfg);
  fx.objects = struct('data', fx.data, 'net', fx.net, 'config', fx.cfg, 'session', fx.session);
  fx.freed = struct('Data', hessfree.Data(rand(6, 2)), 'Net', hessfree.Net([2 1], {'linear'}, 1), ...
                    'Config', hessfree.Config(), ...
                    'Session', hessfree.Session(fx.net, fx.data, [], fx.cfg));
  names = fieldnames(fx.freed);
  for i = 1:numel(names)
    fx.freed.(names{i}).free();
  end
  write_file(fullfile(fx.tmp, 'garbage.bin'), sprintf('this is not a hessfree file\n'));
  write_file(fullfile(fx.tmp, 'empty.bin'), '');
  fx.net.save(fullfile(fx.tmp, 'net.hfnet'));
  fx.session.save(fullfile(fx.tmp, 'session.hfs'));
  fx.snapshot = state(fx);
end

function write_file(path, text)
  fid = fopen(path, 'w');
  fwrite(fid, text);
  fclose(fid);
end

function remove_dir(path)
  if exist(path, 'dir')
    confirm_recursive_rmdir(false, 'local');
    rmdir(path, 's');
  end
end

function s = state(fx)
  [n, din, dout] = fx.data.dims();
  s.data_dims = [n din dout];
  s.inputs = fx.data.inputs();
  s.targets = fx.data.targets();
  s.describe = fx.net.describe();
  s.net_params = fx.net.params();
  s.cfg_text = fx.cfg.text();
  s.iteration = fx.session.iteration();
  s.lambda = fx.session.lambda();
  s.session_params = fx.session.params();
  c = fx.session.config();
  s.session_cfg = c.text();
end

function what = changes(fx)
  try
    now = state(fx);
  catch err
    what = ['fixture unusable: ' err.message];
    return;
  end
  names = fieldnames(now);
  changed = names(cellfun(@(k) ~isequal(now.(k), fx.snapshot.(k)), names));
  what = strjoin(changed', ' ');
end

% ---------------------------------------------------------------------------
% Value encodings (see the table's header)
% ---------------------------------------------------------------------------

function v = number(t)
  % A double, or a uint64 for 2^K(-1) beyond 2^53 (exact, as sizes need).
  tok = regexp(t, '^2\^(\d+)(-1)?$', 'tokens', 'once');
  if ~isempty(tok)
    k = str2double(tok{1});
    minus_one = numel(tok) > 1 && ~isempty(tok{2});
    if k == 64 && minus_one
      v = intmax('uint64');
    elseif k > 53 && k < 64
      v = bitshift(uint64(1), k) - uint64(minus_one);
    else
      v = 2^k - minus_one;   % exact up to 2^53; beyond, a double as Octave code would pass it
    end
    return;
  end
  v = str2double(strrep(t, 'Inf', 'inf'));
  if isnan(v) && ~strcmpi(t, 'nan')
    error('test:table', 'not a number: %s', t);
  end
end

function v = fillv(i, j, d)
  v = (mod(i * d + j, 7) + 1) / 8;
end

function M = matrix(t)
  % D x N (one example per column), double unless "f32:".
  if strcmp(t, 'rank3')
    M = 0.5 * ones(2, 2, 2);
    return;
  end
  single_ = false;
  if strncmp(t, 'f32:', 4) || strncmp(t, 'f64:', 4)
    single_ = strncmp(t, 'f32:', 4);
    t = t(5:end);
  end
  parts = strsplit(t, ';');
  shape = strsplit(parts{1}, 'x');
  n = number(shape{1});
  d = number(shape{2});
  M = zeros(d, n);
  for i = 0:n - 1
    for j = 0:d - 1
      M(j + 1, i + 1) = fillv(i, j, d);
    end
  end
  for p = 2:numel(parts)
    kv = strsplit(parts{p}, '=');
    ij = str2double(strsplit(kv{1}, ','));
    M(ij(2) + 1, ij(1) + 1) = number(kv{2});
  end
  if single_
    M = single(M);
  end
end

function v = vec(t)
  if strncmp(t, 'rank2:', 6)
    rc = str2double(strsplit(t(7:end), 'x'));
    v = 0.5 * ones(rc(1), rc(2));
    return;
  end
  if strncmp(t, 'f32:', 4) || strncmp(t, 'f64:', 4)
    t = t(5:end);
  end
  parts = strsplit(t, ';');
  v = 0.5 * ones(str2double(parts{1}), 1);
  for p = 2:numel(parts)
    kv = strsplit(parts{p}, '=');
    v(str2double(kv{1}) + 1) = number(kv{2});
  end
end

function s = sizes_of(t)
  if strcmp(t, '<empty>')
    s = [];
    return;
  end
  parts = strsplit(t, ',');
  vals = cellfun(@number, parts, 'UniformOutput', false);
  if any(cellfun(@(x) isa(x, 'uint64'), vals))
    s = cellfun(@uint64, vals);   % all exact as uint64
  else
    s = cell2mat(vals);
  end
end

function a = act_of(t)
  if ~isempty(regexp(t, '^-?\d+$|^2\^\d+(-1)?$', 'once'))
    a = number(t);
  else
    a = t;
  end
end

function c = acts_of(t)
  parts = strsplit(t, ',');
  c = cellfun(@act_of, parts, 'UniformOutput', false);
end

function [key, type, value] = option(t)
  eq = find(t == '=', 1);
  key = t(1:eq - 1);
  rest = t(eq + 1:end);
  colon = find(rest == ':', 1);
  if isempty(colon)
    type = rest;
    value = '';
  else
    type = rest(1:colon - 1);
    value = rest(colon + 1:end);
  end
end

function v = option_value(fx, type, value)
  switch type
    case {'f64', 'i64'}
      v = double(number(value));
    case 'bool'
      v = strcmp(value, 'true');
    otherwise   % str, text: both are character vectors here
      v = text_of(fx, value);
  end
end

function s = text_of(fx, t)
  if strcmp(t, '<empty>')
    s = '';
  else
    s = strrep(t, '<tmp>', fx.tmp);
  end
end

function o = object(fx, cls, v, default)
  % The object a row passes for an argument of class cls ('Data', 'Net',
  % 'Config', 'Session').
  tags = struct('Config', 1, 'Data', 2, 'Net', 3, 'Session', 4);
  ctor = str2func(['hessfree.' cls]);
  if isempty(v)
    o = default;
  elseif strcmp(v, 'freed')
    o = fx.freed.(cls);
  elseif strcmp(v, 'forged')
    o = ctor(uint64(4660));   % 0x1234
  elseif strcmp(v, 'forged_tagged')
    o = ctor(bitor(bitshift(uint64(tags.(cls)), 56), uint64(1099511627775)));
  elseif strncmp(v, 'wrong_kind:', 11)
    % The wrapper's destructor asks to free the other kind's handle: the
    % library refuses, so the fixture object survives (checked after the row).
    o = ctor(fx.objects.(v(12:end)).id);
  elseif strcmp(v, 'null')
    o = ctor(uint64(0));
  elseif strncmp(v, 'other_class:', 12)
    o = fx.objects.(v(13:end));
  elseif strncmp(v, 'data:', 5)
    o = hessfree.Data(matrix(v(6:end)));
  elseif strncmp(v, 'cfg:', 4)
    o = hessfree.Config();
    settings = strsplit(v(5:end), ';');
    for i = 1:numel(settings)
      [key, type, value] = option(settings{i});
      o.set(key, option_value(fx, type, value));
    end
  else
    error('test:table', 'unknown object encoding %s', v);
  end
end

% ---------------------------------------------------------------------------
% Running one row
% ---------------------------------------------------------------------------

function problem = run_row(fx, row)
  status = row.status;
  fragment = row.fragment;
  if isfield(row.override, 'octave')
    o = row.override.octave;
    c = find(o == ':', 1);
    status = o(1:c - 1);
    fragment = o(c + 1:end);
  end
  fragment = strrep(fragment, '<tmp>', fx.tmp);
  got = 'HF_OK';
  message = '';
  try
    perform(fx, row);
  catch err
    if strncmp(err.identifier, 'hessfree:', 9)
      got = err.identifier(10:end);
    else
      got = ['[' err.identifier ']'];
    end
    message = err.message;
  end
  problem = '';
  if ~strcmp(got, status)
    problem = sprintf('expected %s, got %s: %s', status, got, message);
  elseif ~strcmp(status, 'HF_OK') && (isempty(message) || isempty(strfind(message, fragment)))
    problem = sprintf('message "%s" lacks "%s"', message, fragment);
  else
    what = changes(fx);
    if ~isempty(what)
      problem = ['fixture changed or unusable: ' what];
    end
  end
end

function perform(fx, row)
  op = row.op;
  arg = row.arg;
  v = row.value;
  pick = @(name, fallback) ifelse(strcmp(arg, name), v, fallback);
  self = pick('self', '');
  switch op
    case 'data.new'
      hessfree.Data(matrix(v));
    case 'data.new_supervised'
      hessfree.Data(matrix(pick('inputs', '3x2')), matrix(pick('targets', '3x1')));
    case 'data.curves'
      hessfree.Data.curves(number(v), 1);
    case 'data.mnist'
      [a, b] = hessfree.Data.mnist(text_of(fx, v)); %#ok<ASGLU>
    case 'data.faces'
      % The classes have no FACES loader: the gateway's command is the binding's API.
      [a, b] = hessfree_mex('data_faces', text_of(fx, pick('path', '<tmp>/garbage.bin')), ...
                            number(pick('per_image', '1')), 0); %#ok<ASGLU>
    case 'data.preset'
      [a, b] = hessfree.Data.preset(text_of(fx, pick('name', 'mnist')), ...
                                    text_of(fx, pick('data_dir', '<tmp>')), 0); %#ok<ASGLU>
    case 'data.size'
      d = object(fx, 'Data', self, fx.data);
      d.dims();
    case 'data.inputs'
      d = object(fx, 'Data', self, fx.data);
      d.inputs();
    case 'data.targets'
      d = object(fx, 'Data', self, fx.data);
      d.targets();
    case 'data.free'
      d = object(fx, 'Data', self, fx.data);
      d.free();
    case 'net.new'
      sizes = sizes_of(pick('sizes', '6,3,6'));
      if strcmp(arg, 'activations')
        acts = acts_of(v);
      else
        acts = repmat({'logistic'}, 1, max(numel(sizes) - 1, 0));
      end
      hessfree.Net(sizes, acts, 1);
    case 'net.new_autoencoder'
      hessfree.Net.autoencoder(sizes_of(pick('encoder', '6,3')), act_of(pick('output', 'logistic')), 1);
    case 'net.new_preset'
      hessfree.Net.preset(text_of(fx, v), 1);
    case 'net.load'
      hessfree.Net.load(text_of(fx, v));
    case {'net.save', 'net.clone', 'net.num_params', 'net.describe', 'net.get_params', ...
          'net.set_params', 'net.predict', 'net.evaluate', 'net.gradient', 'net.free'}
      n = object(fx, 'Net', self, fx.net);
      data = object(fx, 'Data', pick('data', ''), fx.data);
      switch op
        case 'net.save', n.save(text_of(fx, pick('path', '<tmp>/out.hfnet')));
        case 'net.clone', n.clone();
        case 'net.num_params', n.num_params();
        case 'net.describe', n.describe();
        case 'net.get_params', n.params();
        case 'net.set_params', n.set_params(vec(pick('params', '45')));
        case 'net.predict', n.predict(matrix(pick('inputs', '2x6')));
        case 'net.evaluate', n.evaluate(data);
        case 'net.gradient', n.gradient(data);
        case 'net.free', n.free();
      end
    case 'config.preset'
      hessfree.Config.preset(text_of(fx, v));
    case {'config.set', 'config.get', 'config.validate', 'config.to_text', 'config.clone', ...
          'config.free'}
      c = object(fx, 'Config', self, fx.cfg);
      [key, type, value] = option(pick('option', 'max_iters=i64:3'));
      switch op
        case 'config.set', c.set(key, option_value(fx, type, value));
        case 'config.get', c.get(key);
        case 'config.validate', c.validate();
        case 'config.to_text', c.text();
        case 'config.clone', c.clone();
        case 'config.free', c.free();
      end
    case 'session.new'
      hessfree.Session(object(fx, 'Net', pick('net', ''), fx.net), ...
                       object(fx, 'Data', pick('train', ''), fx.data), ...
                       object(fx, 'Data', pick('test', ''), []), ...
                       object(fx, 'Config', pick('cfg', ''), fx.cfg));
    case 'session.resume'
      hessfree.Session.resume(object(fx, 'Net', pick('net', ''), fx.net), ...
                              object(fx, 'Data', pick('train', ''), fx.data), ...
                              object(fx, 'Data', pick('test', ''), []), ...
                              object(fx, 'Config', pick('cfg', ''), []), ...
                              text_of(fx, pick('path', '<tmp>/session.hfs')));
    case {'session.step', 'session.run', 'session.request_stop', 'session.get_params', ...
          'session.copy_net', 'session.iteration', 'session.lambda', 'session.get_config', ...
          'session.set_config', 'session.save', 'session.backend_name', 'session.summary_text', ...
          'session.report_text', 'session.free'}
      s = object(fx, 'Session', self, fx.session);
      switch op
        case 'session.step', s.step();
        case 'session.run', s.run();
        case 'session.request_stop', s.stop();
        case 'session.get_params', s.params();
        case 'session.copy_net', s.net();
        case 'session.iteration', s.iteration();
        case 'session.lambda', s.lambda();
        case 'session.get_config', s.config();
        case 'session.set_config', s.set_config(object(fx, 'Config', pick('cfg', ''), fx.cfg));
        case 'session.save', s.save(text_of(fx, pick('path', '<tmp>/out.hfs')));
        case 'session.backend_name', s.backend();
        case 'session.summary_text', s.summary_text();
        case 'session.report_text', s.report_text();
        case 'session.free', s.free();
      end
    otherwise
      error('test:table', 'operation %s is not implemented by the Octave runner', op);
  end
end

function r = ifelse(cond, a, b)
  if cond
    r = a;
  else
    r = b;
  end
end
