classdef Data < handle
  % hessfree.Data  A data set held by the library (inputs and targets, float).
  %
  %   d = hessfree.Data(X)      an autoencoder set: X is D x N (one example
  %                             per column), double or single; targets = X
  %   d = hessfree.Data(X, Y)   supervised: X is Din x N, Y is Dout x N
  %   d = hessfree.Data.curves(n, seed)          CURVES-like images (784 x n)
  %   [train, test] = hessfree.Data.mnist(dir)   MNIST IDX files in dir
  %   [train, test] = hessfree.Data.preset('curves' | 'mnist' | 'faces', data_dir, seed)
  %
  % The data are validated (shapes, NaN/Inf) and copied: X and Y may be
  % changed or cleared afterwards. D x N column-major is exactly the
  % library's N x D row-major layout, so nothing is transposed.

  properties (SetAccess = private)
    id = uint64(0)  % the C handle (uint64); stays set after free()
  end

  methods
    function obj = Data(X, Y)
      if nargin == 1 && isa(X, 'uint64') && isscalar(X)
        obj.id = X;  % internal: wrap (and own) a handle
        return;
      end
      if nargin < 1
        error('hessfree:HF_ERR_INVALID_ARGUMENT', 'hessfree.Data(X) or hessfree.Data(X, Y): X is required');
      end
      if nargin < 2
        obj.id = hessfree_mex('data_new', X);
      else
        obj.id = hessfree_mex('data_new', X, Y);
      end
    end

    function delete(obj)
      hessfree.Data.release_(obj.id);
    end

    function free(obj)
      % Frees the C object now; later use raises 'hessfree:HF_ERR_INVALID_HANDLE'.
      hessfree_mex('data_free', obj.id);
    end

    function [n, input_dim, target_dim] = dims(obj)
      % The number of examples and the input and target dimensions.
      [n, input_dim, target_dim] = hessfree_mex('data_size', obj.id);
    end

    function X = inputs(obj)
      % The inputs as a single D x N matrix.
      X = hessfree_mex('data_inputs', obj.id);
    end

    function Y = targets(obj)
      % The targets as a single D x N matrix.
      Y = hessfree_mex('data_targets', obj.id);
    end

    function disp(obj)
      try
        [n, din, dout] = obj.dims();
        fprintf('  hessfree.Data: %d examples, %d inputs, %d targets\n', n, din, dout);
      catch err
        fprintf('  hessfree.Data (unusable: %s)\n', err.message);
      end
    end
  end

  methods (Static)
    function d = curves(n, seed)
      % n CURVES-like 28x28 images (an autoencoder set); same (n, seed), same data.
      d = hessfree.Data(hessfree_mex('data_curves', n, seed));
    end

    function [train, test] = mnist(dir)
      % MNIST (60000 + 10000 images of 784 pixels in [0, 1]) from IDX files in dir.
      [a, b] = hessfree_mex('data_mnist', dir);
      train = hessfree.Data(a);
      test = hessfree.Data(b);
    end

    function [train, test] = preset(name, data_dir, seed)
      % The training and test sets of one of the paper's experiments.
      if nargin < 3, seed = 0; end
      [a, b] = hessfree_mex('data_preset', name, data_dir, seed);
      train = hessfree.Data(a);
      test = hessfree.Data(b);
    end

    function h = handle_of(data)
      % The raw handle of a hessfree.Data; [] gives 0 (no data set).
      if isempty(data)
        h = uint64(0);
      elseif isa(data, 'hessfree.Data')
        h = data.id;
      else
        error('hessfree:HF_ERR_WRONG_TYPE', 'expected a hessfree.Data, got a %s', class(data));
      end
    end
  end

  methods (Static, Hidden)
    function release_(h)
      if h ~= 0
        try
          hessfree_mex('data_free', h);
        catch
        end
      end
    end
  end
end
