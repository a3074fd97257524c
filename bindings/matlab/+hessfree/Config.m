classdef Config < handle
  % hessfree.Config  The optimizer's options (string keys, typed values).
  %
  %   cfg = hessfree.Config()                         the reference defaults
  %   cfg = hessfree.Config('chunk_size', 150, 'threads', 1, ...)
  %   cfg = hessfree.Config(struct('max_iters', 3, 'backend', 'cpu'))
  %   cfg = hessfree.Config.preset('mnist', 'max_iters', 10)
  %   cfg.set('initial_lambda', 10);  v = cfg.get('initial_lambda');
  %   keys = hessfree.Config.keys()   every key: name, type, default, range, doc
  %
  % Values: real scalars for float keys, integer-valued scalars for integer
  % keys, true/false for boolean keys, character vectors for string keys
  % (e.g. 'backend', 'cpu'). An unknown key ('hessfree:HF_ERR_UNKNOWN_KEY',
  % with the nearest key suggested) or an out-of-range value
  % ('hessfree:HF_ERR_OUT_OF_RANGE', with the valid range) is an error and
  % leaves the configuration unchanged.

  properties (SetAccess = private)
    id = uint64(0)  % the C handle (uint64); stays set after free()
  end

  methods
    function obj = Config(varargin)
      if nargin == 1 && isa(varargin{1}, 'uint64') && isscalar(varargin{1})
        obj.id = varargin{1};  % internal: wrap (and own) a handle
        return;
      end
      obj.id = hessfree_mex('config_new');
      obj.set(varargin{:});
    end

    function delete(obj)
      hessfree.Config.release_(obj.id);
    end

    function free(obj)
      % Frees the C object now; later use raises 'hessfree:HF_ERR_INVALID_HANDLE'.
      hessfree_mex('config_free', obj.id);
    end

    function obj = set(obj, varargin)
      % cfg.set('key', value, ...) or cfg.set(struct): sets options in order;
      % the first bad one raises an error (earlier ones stay set).
      [keys, values] = hessfree.Config.pairs_(varargin{:});
      for i = 1:numel(keys)
        hessfree_mex('config_set', obj.id, keys{i}, values{i});
      end
    end

    function v = get(obj, key)
      % The value of option key (double, logical or char by the key's type).
      v = hessfree_mex('config_get', obj.id, key);
    end

    function validate(obj)
      % Checks every option and the cross-key rules (e.g. rho_low <= rho_high).
      hessfree_mex('config_validate', obj.id);
    end

    function s = text(obj)
      % Every option as 'key=value' lines.
      s = hessfree_mex('config_text', obj.id);
    end

    function s = to_struct(obj)
      % Every option as a struct field.
      s = struct();
      k = hessfree.Config.keys();
      for i = 1:numel(k)
        s.(k(i).name) = obj.get(k(i).name);
      end
    end

    function copy = clone(obj)
      % An independent copy.
      copy = hessfree.Config(hessfree_mex('config_clone', obj.id));
    end

    function disp(obj)
      try
        fprintf('  hessfree.Config:\n%s', obj.text());
      catch err
        fprintf('  hessfree.Config (unusable: %s)\n', err.message);
      end
    end
  end

  methods (Static)
    function cfg = preset(name, varargin)
      % The options of one of the paper's experiments, then any name/value pairs.
      cfg = hessfree.Config(hessfree_mex('config_preset', name));
      cfg.set(varargin{:});
    end

    function k = keys()
      % A struct array describing every option: name, type, default, range, doc.
      k = hessfree_mex('config_keys');
    end

    function cfg = from(varargin)
      % A Config from a Config (returned as is), a struct, or name/value pairs.
      if nargin == 1 && isa(varargin{1}, 'hessfree.Config')
        cfg = varargin{1};
      else
        cfg = hessfree.Config(varargin{:});
      end
    end
  end

  methods (Static, Hidden)
    function [keys, values] = pairs_(varargin)
      % Name/value pairs or one struct as cell arrays of keys and values.
      if nargin == 1 && isstruct(varargin{1})
        if ~isscalar(varargin{1})
          error('hessfree:HF_ERR_INVALID_ARGUMENT', 'options must be a scalar struct');
        end
        keys = fieldnames(varargin{1});
        values = struct2cell(varargin{1});
        return;
      end
      if mod(nargin, 2) ~= 0
        error('hessfree:HF_ERR_INVALID_ARGUMENT', ...
              'options must be name/value pairs or one struct (got %d arguments)', nargin);
      end
      keys = varargin(1:2:end);
      values = varargin(2:2:end);
      for i = 1:numel(keys)
        if ~ischar(keys{i})
          error('hessfree:HF_ERR_INVALID_ARGUMENT', ...
                'option name %d must be a character vector (got a %s)', i, class(keys{i}));
        end
      end
    end

    function release_(h)
      if h ~= 0
        try
          hessfree_mex('config_free', h);
        catch
        end
      end
    end
  end
end
